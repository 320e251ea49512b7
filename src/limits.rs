//! Bounds against abuse of the login machinery, per client address.
//!
//! Starting a login costs the gateway a pending-login record and the
//! provider an authorization transaction; a callback costs a token exchange
//! and signature checks. Both are rate-limited per client address (token
//! buckets, `governor`), and the logins a client may start within one
//! `login_timeout` are capped, so a flood from one address can neither
//! exhaust memory nor starve other citizens. The global cap on pending
//! logins lives in the session store.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{LimitSettings, RateLimit};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many requests from this address recently.
    RateLimited,
    /// Too many logins started by this address and not yet expired.
    TooManyPending,
}

impl Refusal {
    /// Bounded label for `g2p_gateway_requests_refused_total{reason}`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::RateLimited => "rate_limited",
            Refusal::TooManyPending => "pending_logins_per_client",
        }
    }
}

/// The limiters of one gateway snapshot.
pub struct Limits {
    login: Option<DefaultKeyedRateLimiter<IpAddr>>,
    callback: Option<DefaultKeyedRateLimiter<IpAddr>>,
    pending: moka::sync::Cache<IpAddr, Arc<AtomicU32>>,
    max_pending_per_client: u32,
    checks: AtomicU32,
}

impl Limits {
    /// Builds the limiters from the config.
    pub fn new(settings: &LimitSettings, login_timeout: Duration) -> Limits {
        Limits {
            login: settings.login_starts.as_ref().map(limiter),
            callback: settings.callbacks.as_ref().map(limiter),
            pending: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(login_timeout)
                .build(),
            max_pending_per_client: settings.pending_logins_per_client,
            checks: AtomicU32::new(0),
        }
    }

    /// Runs before a login starts (a redirect to the provider).
    pub fn allow_login_start(&self, client: Option<IpAddr>) -> Result<(), Refusal> {
        self.tick();
        let Some(ip) = client else { return Ok(()) };
        if let Some(limiter) = &self.login {
            limiter.check_key(&ip).map_err(|_| Refusal::RateLimited)?;
        }
        let count = self.pending.get_with(ip, || Arc::new(AtomicU32::new(0)));
        if count.fetch_add(1, Ordering::Relaxed) >= self.max_pending_per_client {
            count.fetch_sub(1, Ordering::Relaxed);
            return Err(Refusal::TooManyPending);
        }
        Ok(())
    }

    /// Runs when a started login is taken back at its callback (whatever its
    /// outcome): it no longer counts against the client's pending logins.
    pub fn login_finished(&self, client: Option<IpAddr>) {
        if let Some(count) = client.and_then(|ip| self.pending.get(&ip)) {
            let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Runs before a callback is processed.
    pub fn allow_callback(&self, client: Option<IpAddr>) -> Result<(), Refusal> {
        self.tick();
        match (&self.callback, client) {
            (Some(limiter), Some(ip)) => limiter.check_key(&ip).map_err(|_| Refusal::RateLimited),
            _ => Ok(()),
        }
    }

    /// Runs housekeeping every 1024 checks, so idle addresses do not pile up.
    fn tick(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.housekeeping();
        }
    }

    /// Drops the state of addresses not seen recently.
    pub fn housekeeping(&self) {
        for limiter in [&self.login, &self.callback].into_iter().flatten() {
            limiter.retain_recent();
        }
        self.pending.run_pending_tasks();
    }
}

fn limiter(rate: &RateLimit) -> DefaultKeyedRateLimiter<IpAddr> {
    let per_minute = NonZeroU32::new(rate.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_minute: u32, burst: u32, pending: u32) -> LimitSettings {
        LimitSettings {
            login_starts: Some(RateLimit { per_minute, burst }),
            callbacks: Some(RateLimit { per_minute, burst }),
            pending_logins_per_client: pending,
        }
    }

    #[test]
    fn login_starts_are_rate_limited_per_address() {
        let limits = Limits::new(&settings(1, 3, 1000), Duration::from_secs(600));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.allow_login_start(Some(a)), Ok(()));
        }
        assert_eq!(limits.allow_login_start(Some(a)), Err(Refusal::RateLimited));
        assert_eq!(
            limits.allow_login_start(Some(b)),
            Ok(()),
            "other addresses are not affected"
        );
        assert_eq!(limits.allow_login_start(None), Ok(()));
    }

    #[test]
    fn pending_logins_are_capped_per_address() {
        let limits = Limits::new(&settings(1000, 1000, 2), Duration::from_secs(600));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(limits.allow_login_start(Some(a)), Ok(()));
        assert_eq!(limits.allow_login_start(Some(a)), Ok(()));
        assert_eq!(
            limits.allow_login_start(Some(a)),
            Err(Refusal::TooManyPending)
        );
    }

    #[test]
    fn finished_logins_no_longer_count_as_pending() {
        let limits = Limits::new(&settings(1000, 1000, 2), Duration::from_secs(600));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(limits.allow_login_start(Some(a)), Ok(()));
            limits.login_finished(Some(a));
        }
        limits.login_finished(Some(a));
        assert_eq!(limits.allow_login_start(Some(a)), Ok(()));
        assert_eq!(limits.allow_login_start(Some(a)), Ok(()));
        assert_eq!(
            limits.allow_login_start(Some(a)),
            Err(Refusal::TooManyPending)
        );
    }

    #[test]
    fn callbacks_have_their_own_bucket() {
        let limits = Limits::new(&settings(1, 1, 1000), Duration::from_secs(600));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(limits.allow_login_start(Some(a)), Ok(()));
        assert_eq!(limits.allow_callback(Some(a)), Ok(()));
        assert_eq!(limits.allow_callback(Some(a)), Err(Refusal::RateLimited));
    }
}
