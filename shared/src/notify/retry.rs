use chrono::Duration;

/// When to try a failed delivery again. The default makes 6 attempts: at once, then 1 min,
/// 5 min, 15 min, 1 h and 4 h after the previous failure (the last about 5 h 21 min after the
/// first), then gives up. Only [`super::SendError::Retryable`] failures are worth retrying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait before attempt `n + 2`, after `n + 1` attempts failed.
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::new(vec![
            Duration::minutes(1),
            Duration::minutes(5),
            Duration::minutes(15),
            Duration::hours(1),
            Duration::hours(4),
        ])
    }
}

impl RetrySchedule {
    /// A schedule with the given waits between attempts: `delays.len() + 1` attempts in all.
    pub fn new(delays: Vec<Duration>) -> Self {
        Self { delays }
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len() + 1).unwrap_or(u32::MAX)
    }

    /// How long after the last attempt to make the next one, given how many were made (zero
    /// for the first); `None` once all attempts were made.
    pub fn next_attempt_after(&self, attempts_so_far: u32) -> Option<Duration> {
        match attempts_so_far {
            0 => Some(Duration::zero()),
            n => self.delays.get(usize::try_from(n - 1).ok()?).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_makes_six_attempts_then_gives_up() {
        let schedule = RetrySchedule::default();
        let waits: Vec<_> = (0..8).map(|n| schedule.next_attempt_after(n)).collect();
        assert_eq!(
            waits,
            [
                Some(Duration::zero()),
                Some(Duration::minutes(1)),
                Some(Duration::minutes(5)),
                Some(Duration::minutes(15)),
                Some(Duration::hours(1)),
                Some(Duration::hours(4)),
                None,
                None,
            ]
        );
        assert_eq!(schedule.max_attempts(), 6);
        let total: Duration = (0..6).filter_map(|n| schedule.next_attempt_after(n)).sum();
        assert_eq!(total, Duration::hours(5) + Duration::minutes(21));
    }

    #[test]
    fn a_schedule_without_delays_tries_once() {
        let once = RetrySchedule::new(Vec::new());
        assert_eq!(once.next_attempt_after(0), Some(Duration::zero()));
        assert_eq!(once.next_attempt_after(1), None);
        assert_eq!(once.max_attempts(), 1);
    }
}
