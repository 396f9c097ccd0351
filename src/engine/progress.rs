//! Byte-level progress with speed (EWMA) and ETA. What is reported never goes backwards, even
//! when an in-flight part is aborted (pause, retry) and its bytes are sent again.

use crate::vecmap::VecMap as BTreeMap;

/// What the upload is doing, as reported with progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading the file for quick-upload hashes.
    Hashing,
    /// Sending bytes.
    Uploading,
    /// Asking SMH to commit the file.
    Confirming,
}

/// A progress report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    /// Bytes done in this phase.
    pub loaded: u64,
    pub total: u64,
    /// Bytes per second (smoothed).
    pub speed: f64,
    /// Seconds left at the current speed; `None` while unknown.
    pub eta: Option<f64>,
    /// Waiting for the network: the platform says the device is offline.
    pub offline: bool,
}

/// Smoothing factor of the speed average per sample.
const EWMA_ALPHA: f64 = 0.3;
/// Minimum time between speed samples.
const SAMPLE_INTERVAL_MS: f64 = 200.0;

/// Tracks the bytes of one upload phase.
#[derive(Debug)]
pub struct ProgressTracker {
    phase: Phase,
    total: u64,
    completed: u64,
    in_flight: BTreeMap<u32, u64>,
    reported: u64,
    speed: Option<f64>,
    last_sample: Option<(f64, u64)>,
}

impl ProgressTracker {
    pub fn new(phase: Phase, total: u64) -> ProgressTracker {
        ProgressTracker {
            phase,
            total,
            completed: 0,
            in_flight: BTreeMap::new(),
            reported: 0,
            speed: None,
            last_sample: None,
        }
    }

    /// Starts a new phase (speed history restarts).
    pub fn set_phase(&mut self, phase: Phase, total: u64, already_done: u64) {
        *self = ProgressTracker::new(phase, total);
        self.completed = already_done;
        self.reported = already_done;
    }

    /// Bytes of part `id` sent so far (monotonic per attempt; a new attempt may restart at 0).
    pub fn part_progress(&mut self, id: u32, sent: u64) {
        self.in_flight.insert(id, sent);
    }

    /// Part `id` is done and holds `bytes`.
    pub fn part_done(&mut self, id: u32, bytes: u64) {
        self.in_flight.remove(&id);
        self.completed += bytes;
    }

    /// Part `id` was aborted; its bytes will be sent again.
    pub fn part_aborted(&mut self, id: u32) {
        self.in_flight.remove(&id);
    }

    /// Adds `bytes` of sequential work (hashing).
    pub fn advance(&mut self, bytes: u64) {
        self.completed += bytes;
    }

    /// Bytes done in this phase now, parts in flight counted as far as they got.
    pub fn done(&self) -> u64 {
        let mut done = self.completed;
        for sent in self.in_flight.values() {
            done += sent;
        }
        done.min(self.total)
    }

    /// The report at `now_ms` (monotonic clock).
    pub fn snapshot(&mut self, now_ms: f64) -> Progress {
        self.reported = self.reported.max(self.done());
        match self.last_sample {
            None => self.last_sample = Some((now_ms, self.reported)),
            Some((t0, b0)) if now_ms - t0 >= SAMPLE_INTERVAL_MS => {
                let instant = (self.reported - b0) as f64 * 1000.0 / (now_ms - t0);
                self.speed = Some(match self.speed {
                    None => instant,
                    Some(s) => EWMA_ALPHA * instant + (1.0 - EWMA_ALPHA) * s,
                });
                self.last_sample = Some((now_ms, self.reported));
            }
            Some(_) => {}
        }
        let speed = self.speed.unwrap_or(0.0);
        let left = self.total - self.reported;
        let eta = if left == 0 {
            Some(0.0)
        } else if speed > 0.0 {
            Some(left as f64 / speed)
        } else {
            None
        };
        Progress { phase: self.phase, loaded: self.reported, total: self.total, speed, eta, offline: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_across_aborts() {
        let mut p = ProgressTracker::new(Phase::Uploading, 100);
        p.part_progress(1, 40);
        assert_eq!(p.snapshot(0.0).loaded, 40);
        p.part_aborted(1);
        assert_eq!(p.snapshot(10.0).loaded, 40, "never goes backwards");
        p.part_progress(1, 10);
        assert_eq!(p.snapshot(20.0).loaded, 40);
        p.part_done(1, 50);
        p.part_progress(2, 20);
        assert_eq!(p.snapshot(30.0).loaded, 70);
        p.part_done(2, 50);
        let last = p.snapshot(40.0);
        assert_eq!((last.loaded, last.eta), (100, Some(0.0)));
    }

    #[test]
    fn speed_is_smoothed_and_gives_eta() {
        let mut p = ProgressTracker::new(Phase::Uploading, 10_000);
        p.snapshot(0.0);
        p.advance(1000);
        let s = p.snapshot(1000.0);
        assert!((s.speed - 1000.0).abs() < 1e-9);
        assert!((s.eta.unwrap() - 9.0).abs() < 1e-9);
        p.advance(2000);
        let s = p.snapshot(2000.0);
        assert!((s.speed - (0.3 * 2000.0 + 0.7 * 1000.0)).abs() < 1e-9);
    }
}
