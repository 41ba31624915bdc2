//! Draining before exit: once a shutdown starts, `/ready` answers 503 (a
//! load balancer stops sending), every WebSocket is closed with 1001 so
//! its client reconnects elsewhere, and the shutdown waits for the sockets
//! to finish closing.

use tokio::sync::watch;

/// Whether the server is draining, and which WebSockets are still open.
pub struct Drain {
    draining: watch::Sender<bool>,
    /// Each open socket holds a receiver; the sender learns when the last
    /// one is gone.
    sockets: watch::Sender<()>,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            draining: watch::Sender::new(false),
            sockets: watch::Sender::new(()),
        }
    }
}

impl Drain {
    /// Starts draining (once; later calls change nothing).
    pub fn start(&self) {
        self.draining.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Counts an open socket until dropped, and tells it when to close.
    pub fn socket(&self) -> SocketDrain {
        SocketDrain {
            draining: self.draining.subscribe(),
            _open: self.sockets.subscribe(),
        }
    }

    /// Resolves once no socket is open.
    pub async fn sockets_closed(&self) {
        self.sockets.closed().await;
    }
}

/// An open socket's part of the drain.
pub struct SocketDrain {
    draining: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
}

impl SocketDrain {
    /// Resolves when the server starts draining (at once if it has).
    pub async fn started(&mut self) {
        if self.draining.wait_for(|draining| *draining).await.is_err() {
            // The server's state is gone: nothing will ask any more.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sockets_learn_of_the_drain_and_are_waited_for() {
        let drain = Drain::default();
        let mut socket = drain.socket();
        let early = tokio::time::timeout(Duration::from_millis(20), socket.started()).await;
        assert!(early.is_err(), "no drain yet");
        drain.start();
        assert!(drain.is_draining());
        socket.started().await;
        // A socket opened after the start is told at once.
        drain.socket().started().await;
        let waiting = tokio::time::timeout(Duration::from_millis(20), drain.sockets_closed()).await;
        assert!(waiting.is_err(), "one socket is still open");
        drop(socket);
        drain.sockets_closed().await;
    }
}
