//! Per-target load signals: peak-EWMA latency and a requests-per-minute capacity window.
//!
//! Owns: the arithmetic of both signals. Must not: read the clock (`now` is passed in).

use std::time::Duration;

use tokio::time::Instant;

/// How fast the latency estimate forgets (Finagle/linkerd use 10 s as well).
const DECAY: Duration = Duration::from_secs(10);

/// Peak EWMA: jumps up to a slower sample at once, decays towards faster ones over `DECAY`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeakEwma {
    value: f64,
    at: Option<Instant>,
}

impl PeakEwma {
    pub fn observe(&mut self, now: Instant, sample: Duration) {
        let s = sample.as_secs_f64();
        self.value = match self.at {
            None => s,
            Some(_) if s > self.value => s,
            Some(at) => {
                let dt = now.saturating_duration_since(at).as_secs_f64();
                let w = (-dt / DECAY.as_secs_f64()).exp();
                self.value * w + s * (1.0 - w)
            }
        };
        self.at = Some(now);
    }

    /// Seconds; 0 before the first sample.
    pub fn get(&self) -> f64 {
        self.value
    }
}

/// A sliding one-minute request counter (two fixed windows, the previous one weighted by how
/// much of it still overlaps): O(1) memory, at most a few percent off at window edges.
#[derive(Debug, Clone, Copy)]
pub struct RpmWindow {
    origin: Instant,
    minute: u64,
    current: u32,
    previous: u32,
}

impl RpmWindow {
    pub fn new(now: Instant) -> Self {
        RpmWindow {
            origin: now,
            minute: 0,
            current: 0,
            previous: 0,
        }
    }

    fn roll(&mut self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.origin).as_secs_f64();
        let minute = (elapsed / 60.0) as u64;
        if minute != self.minute {
            self.previous = if minute == self.minute + 1 {
                self.current
            } else {
                0
            };
            self.current = 0;
            self.minute = minute;
        }
        elapsed / 60.0 - minute as f64
    }

    /// Requests in the last minute (estimated).
    pub fn rate(&mut self, now: Instant) -> f64 {
        let into = self.roll(now);
        f64::from(self.previous) * (1.0 - into) + f64::from(self.current)
    }

    pub fn has_room(&mut self, now: Instant, rpm: u32) -> bool {
        self.rate(now) < f64::from(rpm)
    }

    pub fn add(&mut self, now: Instant) {
        self.roll(now);
        self.current = self.current.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn peak_ewma_jumps_up_and_decays_down() {
        let t0 = Instant::now();
        let mut e = PeakEwma::default();
        assert_eq!(e.get(), 0.0);
        e.observe(t0, Duration::from_millis(100));
        assert!((e.get() - 0.1).abs() < 1e-9);
        e.observe(t0 + S, Duration::from_secs(2));
        assert!((e.get() - 2.0).abs() < 1e-9, "peak taken at once");
        e.observe(t0 + 11 * S, Duration::from_millis(100));
        // One decay constant later: 2.0·e^-1 + 0.1·(1-e^-1) ≈ 0.799.
        assert!((e.get() - 0.799).abs() < 0.01, "{}", e.get());
    }

    #[test]
    fn rpm_window_limits_and_slides() {
        let t0 = Instant::now();
        let mut w = RpmWindow::new(t0);
        for _ in 0..10 {
            assert!(w.has_room(t0, 10));
            w.add(t0);
        }
        assert!(!w.has_room(t0 + 30 * S, 10));
        // Half of the previous minute still counts 30 s into the next one.
        assert!((w.rate(t0 + 90 * S) - 5.0).abs() < 1e-6);
        assert!(w.has_room(t0 + 90 * S, 10));
        assert_eq!(w.rate(t0 + 200 * S), 0.0);
    }
}
