//! Coalescing of concurrent store calls into one round trip: while a call is in flight, new
//! requests queue; when it returns, everything queued leaves together as the next call.
//!
//! Owns: the queue, the batch size bound and handing each caller its own share of a batch's
//! result. Must not: know what a call does (the `run` function does), or wait for callers that
//! have not arrived (no timer: a lone request leaves at once, so light load pays no delay and
//! heavy load pays one round trip per batch instead of one per request).

use std::future::Future;

use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

type Waiting<T, R> = (T, oneshot::Sender<R>);

/// A queue in front of one batched call, served by a task on the store's runtime.
pub(super) struct Coalescer<T, R> {
    tx: mpsc::UnboundedSender<Waiting<T, R>>,
}

impl<T: Send + 'static, R: Send + 'static> Coalescer<T, R> {
    /// Starts the serving task on `handle`. A batch holds items whose `weight` adds up to at
    /// most `max_weight` (a heavier single item goes alone). `run` answers a batch with one
    /// result per item, in order; a missing result reaches its caller as `None`.
    pub fn start<F, Fut>(
        handle: &Handle,
        max_weight: usize,
        weight: fn(&T) -> usize,
        run: F,
    ) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Waiting<T, R>>();
        handle.spawn(async move {
            let mut carried: Option<Waiting<T, R>> = None;
            loop {
                let first = match carried.take() {
                    Some(w) => w,
                    None => match rx.recv().await {
                        Some(w) => w,
                        // Every store handle is gone.
                        None => return,
                    },
                };
                let (items, waiters, next) = gather(first, &mut rx, max_weight, weight);
                carried = next;
                let results = run(items).await;
                for (waiter, r) in waiters.into_iter().zip(results) {
                    // The caller may have timed out and left: nothing to do.
                    let _ = waiter.send(r);
                }
            }
        });
        Coalescer { tx }
    }

    /// Queues `item` and waits for its result; `None` when the batch gave no result for it.
    pub async fn call(&self, item: T) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((item, tx)).ok()?;
        rx.await.ok()
    }
}

/// `first` plus whatever is already queued, within `max_weight`; the first item that does not
/// fit is handed back to open the next batch.
#[allow(clippy::type_complexity)]
fn gather<T, R>(
    first: Waiting<T, R>,
    rx: &mut mpsc::UnboundedReceiver<Waiting<T, R>>,
    max_weight: usize,
    weight: fn(&T) -> usize,
) -> (Vec<T>, Vec<oneshot::Sender<R>>, Option<Waiting<T, R>>) {
    let mut total = weight(&first.0);
    let (mut items, mut waiters) = (vec![first.0], vec![first.1]);
    while total < max_weight {
        let Ok(w) = rx.try_recv() else { break };
        let add = weight(&w.0);
        if total + add > max_weight {
            return (items, waiters, Some(w));
        }
        total += add;
        items.push(w.0);
        waiters.push(w.1);
    }
    (items, waiters, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn one(_: &u32) -> usize {
        1
    }

    #[tokio::test]
    async fn concurrent_calls_share_batches_and_get_their_own_results() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sizes);
        // The first call is slow, so the next ones queue behind it and leave together.
        let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
        let c = Arc::new(Coalescer::start(&Handle::current(), 3, one, move |items| {
            seen.lock().unwrap().push(items.len());
            let mut gate = gate_rx.clone();
            async move {
                let _ = gate.wait_for(|open| *open).await;
                items.into_iter().map(|i| i * 10).collect::<Vec<u32>>()
            }
        }));
        let mut calls = Vec::new();
        for i in 0..7u32 {
            let c = Arc::clone(&c);
            calls.push(tokio::spawn(async move { c.call(i).await }));
            tokio::task::yield_now().await;
        }
        gate_tx.send(true).unwrap();
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap(), Some(i as u32 * 10));
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 7);
        assert!(sizes.iter().all(|&s| s <= 3), "{sizes:?}");
        assert!(sizes.len() < 7, "no coalescing happened: {sizes:?}");
    }

    #[tokio::test]
    async fn a_missing_result_is_none_and_an_overweight_item_goes_alone() {
        fn heavy(n: &u32) -> usize {
            *n as usize
        }
        let c = Coalescer::start(&Handle::current(), 4, heavy, |items: Vec<u32>| async move {
            // Answers all but the last item.
            let n = items.len().saturating_sub(1);
            items.into_iter().take(n).collect::<Vec<u32>>()
        });
        assert_eq!(c.call(9).await, None);
    }
}
