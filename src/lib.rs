//! smh-upload
