//! Per-target load signals: peak-EWMA latency and the sliding window behind the per-minute
//! request (`capacity_rpm`) and token (`capacity_tpm`) capacities.
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

/// The capacities (`capacity_rpm`, `capacity_tpm`) are per minute; a shorter window enforces
/// them prorated (600 rpm over 10 s = 100 per window), which smooths bursts.
pub const MINUTE: Duration = Duration::from_secs(60);

/// A sliding-window counter (two fixed windows of `span`, the previous one weighted by how
/// much of it still overlaps): O(1) memory, at most a few percent off at window edges. Counts
/// requests for `capacity_rpm` and tokens for `capacity_tpm`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    origin: Instant,
    span: Duration,
    slot: u64,
    current: u64,
    previous: u64,
}

impl Window {
    /// `span` is clamped to at least 1 ms (a zero span would divide by zero).
    pub fn new(now: Instant, span: Duration) -> Self {
        Window {
            origin: now,
            span: span.max(Duration::from_millis(1)),
            slot: 0,
            current: 0,
            previous: 0,
        }
    }

    /// The fixed window `at` falls in, and how far into it (0..1).
    fn slot_of(&self, at: Instant) -> (u64, f64) {
        let spans =
            at.saturating_duration_since(self.origin).as_secs_f64() / self.span.as_secs_f64();
        (spans as u64, spans.fract())
    }

    fn roll(&mut self, now: Instant) -> f64 {
        let (slot, into) = self.slot_of(now);
        if slot != self.slot {
            self.previous = if slot == self.slot + 1 {
                self.current
            } else {
                0
            };
            self.current = 0;
            self.slot = slot;
        }
        into
    }

    /// The amount counted over the last `span` (estimated).
    pub fn total(&mut self, now: Instant) -> f64 {
        let into = self.roll(now);
        self.previous as f64 * (1.0 - into) + self.current as f64
    }

    pub fn add(&mut self, now: Instant, n: u64) {
        self.roll(now);
        self.current = self.current.saturating_add(n);
    }

    /// Replaces `charged`, added at `at`, with `actual` (an estimate corrected once the real
    /// amount is known). A charge whose window already slid out is left alone: it no longer
    /// counts anyway.
    pub fn correct(&mut self, at: Instant, now: Instant, charged: u64, actual: u64) {
        self.roll(now);
        let (slot, _) = self.slot_of(at);
        let cell = if slot == self.slot {
            &mut self.current
        } else if slot + 1 == self.slot {
            &mut self.previous
        } else {
            return;
        };
        *cell = cell.saturating_sub(charged).saturating_add(actual);
    }

    /// The per-minute `capacity` scaled to this window's span.
    fn limit(&self, capacity: u32) -> f64 {
        f64::from(capacity) * self.span.as_secs_f64() / MINUTE.as_secs_f64()
    }

    /// Room for one more request under `rpm`.
    pub fn has_room(&mut self, now: Instant, rpm: u32) -> bool {
        self.total(now) < self.limit(rpm)
    }

    /// Room for `tokens` more under `tpm`. An idle target always takes a request, even one
    /// larger than its whole capacity: otherwise such a request could never be sent to it.
    pub fn fits(&mut self, now: Instant, tokens: u64, tpm: u32) -> bool {
        let recent = self.total(now);
        recent < 0.5 || recent + tokens as f64 <= self.limit(tpm)
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
        let mut w = Window::new(t0, MINUTE);
        for _ in 0..10 {
            assert!(w.has_room(t0, 10));
            w.add(t0, 1);
        }
        assert!(!w.has_room(t0 + 30 * S, 10));
        // Half of the previous minute still counts 30 s into the next one.
        assert!((w.total(t0 + 90 * S) - 5.0).abs() < 1e-6);
        assert!(w.has_room(t0 + 90 * S, 10));
        assert_eq!(w.total(t0 + 200 * S), 0.0);
    }

    #[test]
    fn a_short_window_prorates_the_capacity() {
        let t0 = Instant::now();
        let mut w = Window::new(t0, 10 * S);
        // 60 rpm over 10 s: 10 per window.
        for _ in 0..10 {
            assert!(w.has_room(t0, 60));
            w.add(t0, 1);
        }
        assert!(!w.has_room(t0, 60));
        assert!(w.has_room(t0 + 20 * S, 60));
    }

    #[test]
    fn tpm_window_counts_the_estimate_and_the_request() {
        let t0 = Instant::now();
        let mut w = Window::new(t0, MINUTE);
        // Table: (already counted, this request's estimate, capacity, fits).
        let cases: [(u64, u64, u32, bool); 6] = [
            (0, 50, 100, true),
            (0, 500, 100, true), // idle: even an oversized request goes
            (60, 40, 100, true), // exactly at capacity
            (60, 41, 100, false),
            (100, 1, 100, false),
            (99, 0, 100, true),
        ];
        for (counted, estimate, tpm, fits) in cases {
            let mut w2 = Window::new(t0, MINUTE);
            w2.add(t0, counted);
            assert_eq!(
                w2.fits(t0, estimate, tpm),
                fits,
                "{counted}+{estimate} vs {tpm}"
            );
        }
        w.add(t0, 80);
        assert!(!w.fits(t0 + S, 30, 100));
        // Half a minute into the next minute half of the 80 still counts.
        assert!((w.total(t0 + 90 * S) - 40.0).abs() < 1e-6);
        assert!(w.fits(t0 + 90 * S, 60, 100));
        assert!(!w.fits(t0 + 90 * S, 61, 100));
    }

    #[test]
    fn corrections_replace_the_estimate_in_its_own_window() {
        let t0 = Instant::now();
        let mut w = Window::new(t0, MINUTE);
        w.add(t0, 100);
        w.correct(t0, t0 + S, 100, 30);
        assert_eq!(w.total(t0 + S), 30.0);
        // Charged in the previous minute: corrected there (it still half counts).
        w.add(t0 + 2 * S, 50);
        w.correct(t0 + 2 * S, t0 + 90 * S, 50, 10);
        assert!((w.total(t0 + 90 * S) - 20.0).abs() < 1e-6);
        // Long gone: nothing to correct, and nothing underflows.
        w.correct(t0, t0 + 300 * S, 1000, 0);
        assert_eq!(w.total(t0 + 300 * S), 0.0);
        let mut u = Window::new(t0, MINUTE);
        u.correct(t0, t0, 10, 0);
        assert_eq!(u.total(t0), 0.0);
    }
}
