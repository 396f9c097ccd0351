//! The upload state machine:
//! `preparing → [hashing →] uploading ⇄ paused → confirming → done | failed | cancelled`;
//! a quick-upload hit ends `hashing`, or `uploading` / `paused` when the parts went alongside the
//! full hash, in `done`.

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Before the first byte: asking SMH for the upload (or checking a resumable one).
    Preparing,
    /// Reading the file for quick-upload hashes.
    Hashing,
    /// Sending bytes (or waiting for a connection slot).
    Uploading,
    /// Stopped by `pause()`; nothing in flight.
    Paused,
    /// Committing the file with SMH.
    Confirming,
    /// The file exists in the library.
    Done,
    /// Stopped by an error; nothing is left on the server.
    Failed,
    /// Stopped by `cancel()`; nothing is left on the server.
    Cancelled,
}

impl UploadState {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Preparing => "preparing",
            UploadState::Hashing => "hashing",
            UploadState::Uploading => "uploading",
            UploadState::Paused => "paused",
            UploadState::Confirming => "confirming",
            UploadState::Done => "done",
            UploadState::Failed => "failed",
            UploadState::Cancelled => "cancelled",
        }
    }

    /// Done, failed or cancelled: no transition leaves it.
    pub fn is_final(self) -> bool {
        matches!(self, UploadState::Done | UploadState::Failed | UploadState::Cancelled)
    }

    /// Whether the machine may move from `self` to `next`.
    pub fn can_move_to(self, next: UploadState) -> bool {
        use UploadState::*;
        if self.is_final() {
            return false;
        }
        matches!(
            (self, next),
            (_, Failed | Cancelled)
                | (Preparing, Hashing | Uploading | Paused | Confirming | Done)
                | (Paused, Preparing | Hashing | Uploading | Confirming | Done)
                | (Hashing, Uploading | Paused | Confirming | Done)
                | (Uploading, Paused | Confirming | Hashing | Done)
                | (Confirming, Done | Uploading)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::UploadState::*;

    #[test]
    fn transitions() {
        assert!(Preparing.can_move_to(Hashing) && Preparing.can_move_to(Uploading) && Preparing.can_move_to(Done));
        assert!(Hashing.can_move_to(Uploading));
        assert!(Uploading.can_move_to(Paused));
        assert!(Paused.can_move_to(Uploading));
        assert!(Confirming.can_move_to(Done));
        assert!(!Done.can_move_to(Uploading));
        assert!(!Cancelled.can_move_to(Failed));
        assert!(Uploading.can_move_to(Done) && Paused.can_move_to(Done), "a quick-upload hit while sending");
        assert!(!Confirming.can_move_to(Hashing));
        assert_eq!(Confirming.as_str(), "confirming");
    }
}
