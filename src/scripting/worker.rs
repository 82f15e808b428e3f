//! The thread client scripts run on: one long-lived thread draining a
//! queue, so back-to-back scripts from many clients run one after the
//! other without a thread hand-off or a fight for the keyspace gate
//! between them (scripts are serial anyway: each holds the gate).

use std::sync::mpsc::{channel, Sender};

use parking_lot::Mutex;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
pub struct Worker {
    queue: Mutex<Option<Sender<Job>>>,
}

impl Worker {
    /// Queue `job`; the thread starts on first use.
    pub fn submit(&self, job: Job) -> std::io::Result<()> {
        let mut queue = self.queue.lock();
        if queue.is_none() {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name("shoal-lua".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })?;
            *queue = Some(tx);
        }
        match queue.as_ref().map(|tx| tx.send(job)) {
            Some(Ok(())) => Ok(()),
            _ => {
                *queue = None;
                Err(std::io::Error::other("the script thread is gone"))
            }
        }
    }
}
