//! WebSockets that have not completed `connection_init`, counted per client
//! address (`TASKLANE_WS_MAX_PENDING_PER_IP`). Such a socket costs memory
//! and a connection slot before anyone is known; past the cap, one address
//! gets 429 before the upgrade. The count drops when the socket is
//! initialised or closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The bucket a client address is counted in.
pub fn bucket(ip: IpAddr) -> IpAddr {
    ip
}

#[derive(Default)]
struct Counts {
    limit: usize,
    by_bucket: Mutex<HashMap<IpAddr, usize>>,
}

/// Cheap to clone.
#[derive(Clone, Default)]
pub struct PendingSockets(Arc<Counts>);

impl PendingSockets {
    pub fn new(limit: usize) -> Self {
        Self(Arc::new(Counts {
            limit,
            by_bucket: Mutex::default(),
        }))
    }

    /// Counts one more pending socket of `ip`; `None` past the cap.
    pub fn open(&self, ip: IpAddr) -> Option<PendingGuard> {
        let key = bucket(ip);
        let mut counts = self
            .0
            .by_bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_default();
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
    key: IpAddr,
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
        let pending = PendingSockets::new(2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = pending.open(a).expect("first");
        let _second = pending.open(a).expect("second");
        assert!(pending.open(a).is_none(), "the third is refused");
        assert!(pending.open(b).is_some(), "another address is not");
        drop(first);
        assert!(pending.open(a).is_some(), "room again");
    }
}
