//! WebSockets that have not completed `connection_init`, counted per client
//! address (`TASKLANE_WS_MAX_PENDING_PER_IP`). Such a socket costs memory
//! and a connection slot before anyone is known; past the cap, one address
//! gets 429 before the upgrade. The count drops when the socket is
//! initialised or closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::auth::client_ip::bucket_key;

#[derive(Default)]
struct Counts {
    limit: usize,
    /// IPv6 clients are counted per network of this length, as the rate
    /// limits count them (`TASKLANE_RATE_IPV6_PREFIX`).
    ipv6_prefix: u8,
    by_bucket: Mutex<HashMap<String, usize>>,
}

/// Cheap to clone.
#[derive(Clone, Default)]
pub struct PendingSockets(Arc<Counts>);

impl PendingSockets {
    pub fn new(limit: usize, ipv6_prefix: u8) -> Self {
        Self(Arc::new(Counts {
            limit,
            ipv6_prefix,
            by_bucket: Mutex::default(),
        }))
    }

    /// Counts one more pending socket of `ip`; `None` past the cap.
    pub fn open(&self, ip: IpAddr) -> Option<PendingGuard> {
        let key = bucket_key(ip, self.0.ipv6_prefix);
        let mut counts = self
            .0
            .by_bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key.clone()).or_default();
        if *count >= self.0.limit {
            return None;
        }
        *count += 1;
        Some(PendingGuard {
            sockets: self.clone(),
            key,
        })
    }

    pub fn limit(&self) -> usize {
        self.0.limit
    }
}

/// One pending socket; dropping it (at `connection_init` or close) stops
/// counting it.
pub struct PendingGuard {
    sockets: PendingSockets,
    key: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut counts = self
            .sockets
            .0
            .by_bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_past_the_cap_until_one_of_its_sockets_goes() {
        let pending = PendingSockets::new(2, 64);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = pending.open(a).expect("first");
        let _second = pending.open(a).expect("second");
        assert!(pending.open(a).is_none(), "the third is refused");
        assert!(pending.open(b).is_some(), "another address is not");
        drop(first);
        assert!(pending.open(a).is_some(), "room again");
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_a_count() {
        let pending = PendingSockets::new(1, 64);
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_net: IpAddr = "2001:db8:1:2::ffff".parse().expect("ip");
        let other_net: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let _a = pending.open(a).expect("first");
        assert!(pending.open(same_net).is_none(), "same /64: one client");
        assert!(pending.open(other_net).is_some(), "another /64 is not");
    }
}
