//! # Fork–join for a tick: one helper thread that stays awake between ticks
//!
//! A tick of a few agents takes tens of microseconds. rayon parks an idle worker after a few
//! rounds of yielding, and waking one costs about as much as the work it would take on
//! (`PARALLEL_MIN_AGENTS` records the measurement: at P = 4 rayon halved the cortex's speed).
//! A [`Helper`] is a thread owned by one region that, after a job, spins for a while
//! ([`SPIN`]) waiting for the next before it parks: ticks that follow each other closely hand
//! over in well under a microsecond.
//!
//! [`Helper::join`] runs one closure on the helper and another on the caller and returns when
//! both have finished; a panic on either side is re-raised on the caller, after both are done.
//! Each side owns disjoint data (split slices), so the result does not depend on which thread
//! ran what: determinism is the caller's split, not the schedule.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the helper keeps polling for the next job before it parks.
pub(crate) const SPIN: Duration = Duration::from_micros(200);

/// The job in flight: a pointer to the caller's `&mut dyn FnMut()` (a thin pointer to a fat
/// one, so that it fits an atomic).
type Job<'a> = &'a mut (dyn FnMut() + Send);

struct Shared {
    job: AtomicPtr<Job<'static>>,
    /// Jobs posted and jobs finished; the helper has work while they differ.
    posted: AtomicU64,
    finished: AtomicU64,
    sleeping: AtomicBool,
    stop: AtomicBool,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

/// A helper thread for [`join`](Helper::join). Dropping it stops the thread.
pub(crate) struct Helper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    /// A helper where the machine has a second core to give it, else `None`.
    pub(crate) fn spawn() -> Option<Helper> {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            return None;
        }
        let shared = Arc::new(Shared {
            job: AtomicPtr::new(std::ptr::null_mut()),
            posted: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            panic: Mutex::new(None),
        });
        let inner = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("valence-helper".into())
            .spawn(move || work(&inner))
            .ok()?;
        Some(Helper {
            shared,
            thread: Some(thread),
        })
    }

    /// Runs `here` on this thread and `there` on the helper; returns when both are done.
    pub(crate) fn join<A, B>(&mut self, here: A, there: B)
    where
        A: FnOnce(),
        B: FnOnce() + Send,
    {
        let mut there = Some(there);
        let mut call = move || {
            if let Some(f) = there.take() {
                f();
            }
        };
        let mut job: Job<'_> = &mut call;
        // SAFETY: the helper dereferences this pointer only between `posted` and `finished`,
        // and `Wait` below does not let this frame (which owns `job` and `call`) end, by return
        // or by unwinding, before `finished` catches up with `posted`.
        let pointer = (&mut job as *mut Job<'_>).cast::<Job<'static>>();
        let shared = &*self.shared;
        shared.job.store(pointer, Ordering::Release);
        shared.posted.fetch_add(1, Ordering::SeqCst);
        if shared.sleeping.load(Ordering::SeqCst)
            && let Some(thread) = &self.thread
        {
            thread.thread().unpark();
        }
        let wait = Wait(shared);
        here();
        drop(wait);
        if let Some(payload) = shared.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            resume_unwind(payload);
        }
    }
}

/// Waits, when dropped, for the helper to finish the job in flight.
struct Wait<'a>(&'a Shared);

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let shared = self.0;
        let target = shared.posted.load(Ordering::Acquire);
        let mut spins = 0u32;
        while shared.finished.load(Ordering::Acquire) != target {
            if spins < 1 << 16 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                thread::yield_now();
            }
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The helper's loop: poll, then park; run each job posted; stop when told.
fn work(shared: &Shared) {
    let mut done = 0u64;
    loop {
        let started = Instant::now();
        let mut polls = 0u32;
        while shared.posted.load(Ordering::Acquire) == done && !shared.stop.load(Ordering::Acquire) {
            polls += 1;
            if !polls.is_multiple_of(64) {
                std::hint::spin_loop();
            } else if started.elapsed() > SPIN {
                shared.sleeping.store(true, Ordering::SeqCst);
                if shared.posted.load(Ordering::SeqCst) == done && !shared.stop.load(Ordering::SeqCst) {
                    thread::park();
                }
                shared.sleeping.store(false, Ordering::SeqCst);
            }
        }
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let pointer = shared.job.load(Ordering::Acquire);
        // SAFETY: posted > done, so the caller is inside `join`, waiting for this job, and the
        // pointer it stored is live until `finished` moves.
        let job = unsafe { &mut *pointer };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(job)) {
            *shared.panic.lock().unwrap_or_else(|e| e.into_inner()) = Some(payload);
        }
        done += 1;
        shared.finished.store(done, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_run_on_their_own_data() {
        let Some(mut helper) = Helper::spawn() else {
            return; // one core: callers run serially, nothing to test here
        };
        let mut data = vec![0u64; 1000];
        for round in 1..=500u64 {
            let (a, b) = data.split_at_mut(400);
            helper.join(
                || a.iter_mut().for_each(|x| *x += round),
                || b.iter_mut().for_each(|x| *x += 2 * round),
            );
        }
        let sum: u64 = (1..=500).sum();
        assert!(data[..400].iter().all(|&x| x == sum));
        assert!(data[400..].iter().all(|&x| x == 2 * sum));
    }

    #[test]
    fn a_job_posted_after_the_helper_parked_still_runs() {
        let Some(mut helper) = Helper::spawn() else {
            return;
        };
        let mut hit = false;
        helper.join(|| {}, || hit = true);
        assert!(hit);
        thread::sleep(SPIN * 20);
        let mut again = false;
        helper.join(|| {}, || again = true);
        assert!(again);
    }

    #[test]
    fn a_panic_on_the_helper_reaches_the_caller_and_the_helper_lives_on() {
        let Some(mut helper) = Helper::spawn() else {
            return;
        };
        let caught = catch_unwind(AssertUnwindSafe(|| {
            helper.join(|| {}, || panic!("helper side"));
        }));
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"helper side"));
        let mut after = 0;
        helper.join(|| {}, || after = 7);
        assert_eq!(after, 7);
    }
}
