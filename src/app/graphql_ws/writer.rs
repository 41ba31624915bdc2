//! The send side of a connection: a bounded queue in front of the socket,
//! so that a client that does not read fills its own queue and nobody
//! else's, and the close frame that ends every connection the server ends.
//!
//! A close goes around the queue, on a channel of its own, so that a full
//! queue never keeps it from the client:
//!
//! - an ordinary close is written after what is already queued, as long as
//!   the client takes that within [`CLOSE_SEND`];
//! - a slow consumer's close (1008) drops the queued backlog first: the
//!   client reads what was already in the socket, then the close frame.
//!
//! Only when even the close frame cannot be written within [`CLOSE_SEND`] is
//! the connection dropped without one.
//!
//! The writer looks at the close channel only while the socket holds it up
//! (the one case where nothing else would wake it): a close is asked for
//! only once the connection has dropped its senders, so a writer waiting on
//! its queue sees the queue end first. Every frame a subscriber receives
//! wakes the writer, and that wake then touches one channel, not two.

use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{FutureExt as _, SinkExt as _, future};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::live::hub::{Close, close};

/// How long a full send queue may stay full before its client counts as
/// too slow: a reading client frees room in microseconds (a burst larger
/// than the queue is fine); a stalled one does not.
const SLOW_GRACE: Duration = Duration::from_secs(1);

/// How long the server tries to write a close frame (and, before an
/// ordinary close, what was queued ahead of it) before it drops the
/// connection instead.
pub(super) const CLOSE_SEND: Duration = Duration::from_secs(2);

type Sink = SplitSink<WebSocket, Message>;

/// Puts `message` in the send queue; `false` when the client is too slow
/// (or gone).
pub(super) async fn queue(out: &mpsc::Sender<Message>, message: Message) -> bool {
    match out.try_send(message) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(message)) => {
            matches!(
                tokio::time::timeout(SLOW_GRACE, out.send(message)).await,
                Ok(Ok(()))
            )
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// The close of a slow consumer.
pub(super) fn slow_consumer() -> Close {
    Close::new(close::SLOW_CONSUMER, "Slow consumer")
}

/// The task that writes a connection's queue into its socket.
pub(super) struct Writer {
    task: JoinHandle<bool>,
    closing: oneshot::Sender<Close>,
}

impl Writer {
    /// Starts writing `sink`; the sender is the queue (of `buffer` messages).
    pub fn start(sink: Sink, buffer: usize) -> (mpsc::Sender<Message>, Self) {
        let (out, waiting) = mpsc::channel::<Message>(buffer);
        let (closing, asked) = oneshot::channel();
        let task = tokio::spawn(write(sink, waiting, asked));
        (out, Self { task, closing })
    }

    /// Ends the connection with `close`; `true` once its frame was written.
    pub async fn close(self, close: Close) -> bool {
        let Self { task, closing } = self;
        let _ = closing.send(close);
        task.await.unwrap_or(false)
    }

    /// Stops writing: the connection ended without a close of the server's.
    pub async fn finish(self) {
        let Self { task, closing } = self;
        drop(closing);
        let _ = task.await;
    }
}

/// How the writing of the queue stopped.
enum Written {
    /// The queue ended (`Ok`) or the socket failed.
    Ended(Result<(), ()>),
    /// A close was asked for (or the connection ended without one) while
    /// the socket held the writer up.
    Asked(Result<Close, oneshot::error::RecvError>),
}

/// Writes what is queued until a close is asked for (then writes that) or
/// the socket fails; `true` when a close frame was written.
async fn write(
    mut sink: Sink,
    mut waiting: mpsc::Receiver<Message>,
    mut asked: oneshot::Receiver<Close>,
) -> bool {
    let written = future::poll_fn(|cx| {
        let mut held_up = false;
        match poll_write(&mut sink, &mut waiting, cx, &mut held_up) {
            Poll::Ready(ended) => Poll::Ready(Written::Ended(ended)),
            Poll::Pending if held_up => asked.poll_unpin(cx).map(Written::Asked),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    let close = match written {
        Written::Asked(close) => close.ok(),
        // Every sender is gone (the connection is closing): the close is
        // still to come.
        Written::Ended(Ok(())) => asked.await.ok(),
        Written::Ended(Err(())) => None,
    };
    let Some(close) = close else {
        return false;
    };
    if close.code != close::SLOW_CONSUMER {
        // What was queued before the close goes first: no more is taken,
        // and the queue ends once it is written.
        waiting.close();
        let _ = tokio::time::timeout(
            CLOSE_SEND,
            future::poll_fn(|cx| poll_write(&mut sink, &mut waiting, cx, &mut false)),
        )
        .await;
    }
    // Whatever is left in the queue is dropped.
    drop(waiting);
    let frame = Message::Close(Some(CloseFrame {
        code: close.code,
        reason: close.reason.into(),
    }));
    matches!(
        tokio::time::timeout(CLOSE_SEND, sink.send(frame)).await,
        Ok(Ok(()))
    )
}

/// Moves queued messages into the socket, flushing once the queue is empty
/// (what is queued together goes out with one flush); ready with `Ok` when
/// the queue has ended (every sender gone, or closed and empty), `Err` when
/// the socket failed. A message is taken from the queue only when the
/// socket accepts it, so this may be stopped at any point without losing
/// one. Pending with `held_up` set when the socket is what it waits for
/// (the client is not reading), unset when it waits for the queue.
fn poll_write(
    sink: &mut Sink,
    waiting: &mut mpsc::Receiver<Message>,
    cx: &mut Context<'_>,
    held_up: &mut bool,
) -> Poll<Result<(), ()>> {
    loop {
        match sink.poll_ready_unpin(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => return Poll::Ready(Err(())),
            Poll::Pending => {
                *held_up = true;
                return Poll::Pending;
            }
        }
        match waiting.poll_recv(cx) {
            Poll::Ready(Some(message)) => {
                if sink.start_send_unpin(message).is_err() {
                    return Poll::Ready(Err(()));
                }
            }
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Pending => {
                return match sink.poll_flush_unpin(cx) {
                    Poll::Ready(Err(_)) => Poll::Ready(Err(())),
                    Poll::Ready(Ok(())) => Poll::Pending,
                    Poll::Pending => {
                        *held_up = true;
                        Poll::Pending
                    }
                };
            }
        }
    }
}
