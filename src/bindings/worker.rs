//! Raw exports for the upload Worker (`smh_upload_worker.js`, see src/platform/browser/worker.rs).
//!
//! The Worker instantiates the page's own compiled `WebAssembly.Module` without wasm-bindgen's
//! glue (its imports are stubbed: these functions call none of them), so these are plain C-ABI
//! functions over one buffer of wasm memory the Worker reserves once with [`smh_worker_alloc`]
//! and reuses for every chunk it reads.

use crate::checksum::crc64::Crc64;

/// Reserves `len` bytes of wasm memory for the Worker's buffer, for the instance's lifetime;
/// returns its address, or 0 if memory cannot grow.
#[no_mangle]
pub extern "C" fn smh_worker_alloc(len: usize) -> *mut u8 {
    let mut buffer: Vec<u8> = Vec::new();
    if buffer.try_reserve_exact(len).is_err() {
        return std::ptr::null_mut();
    }
    let at = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    at
}

/// CRC-64 of the bytes before (`crc`, 0 for none) followed by the `len` bytes at `at`.
///
/// # Safety
/// `at..at + len` must lie in a buffer from [`smh_worker_alloc`].
#[no_mangle]
pub unsafe extern "C" fn smh_worker_crc64(crc: u64, at: *const u8, len: usize) -> u64 {
    let bytes = unsafe { std::slice::from_raw_parts(at, len) };
    let mut state = Crc64::resume(crc);
    state.update(bytes);
    state.finish()
}
