//! Bounds against abuse of the login machinery, per client.
//!
//! Starting a login costs the gateway a pending-login record and the
//! provider an authorization transaction; a callback costs a token exchange
//! and signature checks. Both are rate-limited per client (token buckets,
//! `governor`), and the logins a client may have pending within one
//! `login_timeout` are capped. A client is an IPv4 address or an IPv6 /64
//! ([`client_key`]): one subscriber usually holds a whole /64, so counting
//! single IPv6 addresses would give one attacker 2^64 clients.
//!
//! The global cap on pending logins lives in the session store. When it is
//! full, the oldest pending login of the busiest client is given up to make
//! room ([`Limits::evict_busiest`]), so a flood from many addresses costs the
//! flooders their own logins, not other citizens theirs.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{LimitSettings, RateLimit};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many requests from this client recently.
    RateLimited,
    /// Too many logins started by this client and not yet finished or expired.
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

/// The key a client is counted under: an IPv4 address (also when written as
/// IPv4-mapped IPv6), or the /64 network of an IPv6 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(network.into())
            }
        },
    }
}

/// The limiters of one gateway snapshot.
pub struct Limits {
    login: Option<DefaultKeyedRateLimiter<IpAddr>>,
    callback: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Pending logins per client, oldest first.
    pending: Mutex<HashMap<IpAddr, VecDeque<Pending>>>,
    max_pending_per_client: u32,
    login_timeout: Duration,
    checks: AtomicU32,
}

/// One started login, as the ledger knows it.
struct Pending {
    state: String,
    started: Instant,
}

impl Limits {
    /// Builds the limiters from the config.
    pub fn new(settings: &LimitSettings, login_timeout: Duration) -> Limits {
        Limits {
            login: settings.login_starts.as_ref().map(limiter),
            callback: settings.callbacks.as_ref().map(limiter),
            pending: Mutex::new(HashMap::new()),
            max_pending_per_client: settings.pending_logins_per_client,
            login_timeout,
            checks: AtomicU32::new(0),
        }
    }

    /// Runs before a login starts (a redirect to the provider): the client's
    /// rate, and its cap of pending logins.
    pub fn allow_login_start(&self, client: Option<IpAddr>) -> Result<(), Refusal> {
        self.tick();
        let Some(key) = client.map(client_key) else {
            return Ok(());
        };
        if let Some(limiter) = &self.login {
            limiter.check_key(&key).map_err(|_| Refusal::RateLimited)?;
        }
        let mut pending = self.ledger();
        let mine = pending.get_mut(&key).map_or(0, |queue| {
            drop_expired(queue, self.login_timeout);
            queue.len()
        });
        if mine >= self.max_pending_per_client as usize {
            return Err(Refusal::TooManyPending);
        }
        Ok(())
    }

    /// Runs once a login's pending record is stored: it now counts against
    /// its client until finished, evicted or expired.
    pub fn login_started(&self, client: Option<IpAddr>, state: &str) {
        let Some(key) = client.map(client_key) else {
            return;
        };
        self.ledger().entry(key).or_default().push_back(Pending {
            state: state.to_string(),
            started: Instant::now(),
        });
    }

    /// Runs when a started login is taken back at its callback (whatever its
    /// outcome): it no longer counts against the client.
    pub fn login_finished(&self, client: Option<IpAddr>, state: &str) {
        let Some(key) = client.map(client_key) else {
            return;
        };
        let mut pending = self.ledger();
        if let Some(queue) = pending.get_mut(&key) {
            queue.retain(|p| p.state != state);
            if queue.is_empty() {
                pending.remove(&key);
            }
        }
    }

    /// Runs when the store has no room for a new pending login: gives up the
    /// oldest pending login of the client with the most, and returns its
    /// `state` for the caller to remove from the store. `None` when this
    /// gateway knows of no pending login to give up.
    ///
    /// Rare (only on a full store), so a scan over the clients is fine.
    pub fn evict_busiest(&self) -> Option<String> {
        let mut pending = self.ledger();
        let busiest = pending
            .iter_mut()
            .map(|(key, queue)| {
                drop_expired(queue, self.login_timeout);
                (*key, queue.len())
            })
            .max_by_key(|(_, len)| *len)
            .filter(|(_, len)| *len > 0)?
            .0;
        let queue = pending.get_mut(&busiest)?;
        let victim = queue.pop_front().map(|p| p.state);
        if queue.is_empty() {
            pending.remove(&busiest);
        }
        victim
    }

    /// Runs before a callback is processed.
    pub fn allow_callback(&self, client: Option<IpAddr>) -> Result<(), Refusal> {
        self.tick();
        match (&self.callback, client.map(client_key)) {
            (Some(limiter), Some(key)) => limiter.check_key(&key).map_err(|_| Refusal::RateLimited),
            _ => Ok(()),
        }
    }

    /// Runs housekeeping every 1024 checks, so idle clients do not pile up.
    fn tick(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.housekeeping();
        }
    }

    /// Drops the state of clients not seen recently and expired logins.
    pub fn housekeeping(&self) {
        for limiter in [&self.login, &self.callback].into_iter().flatten() {
            limiter.retain_recent();
        }
        self.ledger().retain(|_, queue| {
            drop_expired(queue, self.login_timeout);
            !queue.is_empty()
        });
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<Pending>>> {
        // A panic while holding the lock leaves plain data behind: use it.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes the logins that have outlived the login timeout (the store has
/// dropped them too).
fn drop_expired(queue: &mut VecDeque<Pending>, login_timeout: Duration) {
    while queue
        .front()
        .is_some_and(|p| p.started.elapsed() >= login_timeout)
    {
        queue.pop_front();
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

    /// Starts a login the way the endpoint does: check, then record.
    fn start(limits: &Limits, ip: IpAddr, state: &str) -> Result<(), Refusal> {
        limits.allow_login_start(Some(ip))?;
        limits.login_started(Some(ip), state);
        Ok(())
    }

    #[test]
    fn login_starts_are_rate_limited_per_client() {
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
    fn ipv6_addresses_of_one_64_are_one_client() {
        let limits = Limits::new(&settings(1, 2, 1000), Duration::from_secs(600));
        for host in 1..=2 {
            let ip: IpAddr = format!("2001:db8:1:2::{host}").parse().unwrap();
            assert_eq!(limits.allow_login_start(Some(ip)), Ok(()));
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(
            limits.allow_login_start(Some(same_64)),
            Err(Refusal::RateLimited)
        );
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limits.allow_login_start(Some(other_64)), Ok(()));
        assert_eq!(
            client_key("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn pending_logins_are_capped_per_client() {
        let limits = Limits::new(&settings(1000, 1000, 2), Duration::from_secs(600));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(start(&limits, a, "s1"), Ok(()));
        assert_eq!(start(&limits, a, "s2"), Ok(()));
        assert_eq!(start(&limits, a, "s3"), Err(Refusal::TooManyPending));
    }

    #[test]
    fn finished_logins_no_longer_count_as_pending() {
        let limits = Limits::new(&settings(1000, 1000, 2), Duration::from_secs(600));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..10 {
            let state = format!("s{i}");
            assert_eq!(start(&limits, a, &state), Ok(()));
            limits.login_finished(Some(a), &state);
        }
        limits.login_finished(Some(a), "unknown");
        assert_eq!(start(&limits, a, "x1"), Ok(()));
        assert_eq!(start(&limits, a, "x2"), Ok(()));
        assert_eq!(start(&limits, a, "x3"), Err(Refusal::TooManyPending));
    }

    #[test]
    fn a_full_store_gives_up_the_busiest_clients_oldest_login() {
        let limits = Limits::new(&settings(1000, 1000, 100), Duration::from_secs(600));
        let flooder: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 0..5 {
            start(&limits, flooder, &format!("f{i}")).unwrap();
        }
        start(&limits, other, "o0").unwrap();
        assert_eq!(limits.evict_busiest().as_deref(), Some("f0"));
        assert_eq!(limits.evict_busiest().as_deref(), Some("f1"));
        let empty = Limits::new(&settings(1000, 1000, 100), Duration::from_secs(600));
        assert_eq!(empty.evict_busiest(), None);
    }

    #[test]
    fn expired_logins_free_their_slot() {
        let limits = Limits::new(&settings(1000, 1000, 1), Duration::ZERO);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(start(&limits, a, "s1"), Ok(()));
        assert_eq!(start(&limits, a, "s2"), Ok(()), "s1 has expired");
        limits.housekeeping();
        assert_eq!(limits.evict_busiest(), None);
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
