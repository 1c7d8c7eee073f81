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
//! When the caller is done with its own part and the helper has not yet started the other (it
//! is parked, or the machine is oversubscribed and it is not running), the caller takes the
//! job back and runs it itself: a busy machine degrades the split to one thread, never to a
//! wait for a thread the scheduler is not running. Each side owns disjoint data (split
//! slices), so the result does not depend on which thread ran what: determinism is the
//! caller's split, not the schedule.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the helper keeps polling for the next job before it parks.
const SPIN: Duration = Duration::from_micros(200);

/// The job in flight: a pointer to the caller's `&mut dyn FnMut()` (a thin pointer to a fat
/// one, so that it fits an atomic).
type Job<'a> = &'a mut (dyn FnMut() + Send);

/// Jobs are numbered 1, 2, …; job n is posted, claimed (by the helper, or taken back by the
/// caller) and finished exactly once each, and job n + 1 is posted only after job n finished.
struct Shared {
    job: AtomicPtr<Job<'static>>,
    posted: AtomicU64,
    claimed: AtomicU64,
    finished: AtomicU64,
    sleeping: AtomicBool,
    stop: AtomicBool,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Shared {
    /// Claims job n for the caller of this function; false when the other side has.
    fn claim(&self, n: u64) -> bool {
        self.claimed
            .compare_exchange(n - 1, n, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Runs a claimed job, keeping a panic for the caller, and marks it finished.
    fn run(&self, n: u64, job: &mut Job<'_>) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(job)) {
            *self.panic.lock().unwrap_or_else(|e| e.into_inner()) = Some(payload);
        }
        self.finished.store(n, Ordering::Release);
    }
}

/// A helper thread for [`join`](Helper::join). Dropping it stops the thread.
pub(crate) struct Helper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    /// A helper where rayon's pool has a second thread to give (it honours
    /// `RAYON_NUM_THREADS`), else `None`.
    pub(crate) fn spawn() -> Option<Helper> {
        if rayon::current_num_threads() < 2 {
            return None;
        }
        let mut helper = Helper::idle();
        let inner = Arc::clone(&helper.shared);
        helper.thread = Some(
            thread::Builder::new()
                .name("valence-helper".into())
                .spawn(move || work(&inner))
                .ok()?,
        );
        Some(helper)
    }

    /// A helper without a thread: the caller takes every job back (tests that path).
    fn idle() -> Helper {
        Helper {
            shared: Arc::new(Shared {
                job: AtomicPtr::new(std::ptr::null_mut()),
                posted: AtomicU64::new(0),
                claimed: AtomicU64::new(0),
                finished: AtomicU64::new(0),
                sleeping: AtomicBool::new(false),
                stop: AtomicBool::new(false),
                panic: Mutex::new(None),
            }),
            thread: None,
        }
    }

    /// Runs `here` on this thread and `there` on the helper (or here, after `here`, when the
    /// helper has not started it by then); returns when both are done.
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
        // SAFETY: the helper dereferences this pointer only for a job it claimed, between
        // `posted` and `finished`, and `Settle` below does not let this frame (which owns `job`
        // and `call`) end, by return or by unwinding, before that job is finished.
        let pointer = (&mut job as *mut Job<'_>).cast::<Job<'static>>();
        let shared = &*self.shared;
        let n = shared.posted.load(Ordering::Relaxed) + 1;
        shared.job.store(pointer, Ordering::Release);
        shared.posted.store(n, Ordering::SeqCst);
        if shared.sleeping.load(Ordering::SeqCst)
            && let Some(thread) = &self.thread
        {
            thread.thread().unpark();
        }
        {
            let _settle = Settle { shared, n };
            here();
            if shared.claim(n) {
                shared.run(n, &mut job);
            }
        }
        if let Some(payload) = shared.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            resume_unwind(payload);
        }
    }
}

/// When dropped: job n is finished, by the helper (waited for), or dropped unrun when the
/// caller unwinds from a panic of its own before the helper claimed it.
struct Settle<'a> {
    shared: &'a Shared,
    n: u64,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        let (shared, n) = (self.shared, self.n);
        if shared.claim(n) {
            shared.finished.store(n, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while shared.finished.load(Ordering::Acquire) != n {
            if spins < 1 << 12 {
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

/// The helper's loop: poll, then park; claim the newest job posted (older ones were taken
/// back by the caller) and run it; stop when told.
fn work(shared: &Shared) {
    let mut seen = 0u64;
    loop {
        let started = Instant::now();
        let mut polls = 0u32;
        while shared.posted.load(Ordering::Acquire) == seen && !shared.stop.load(Ordering::Acquire) {
            polls += 1;
            if !polls.is_multiple_of(64) {
                std::hint::spin_loop();
            } else if started.elapsed() > SPIN {
                shared.sleeping.store(true, Ordering::SeqCst);
                if shared.posted.load(Ordering::SeqCst) == seen && !shared.stop.load(Ordering::SeqCst) {
                    thread::park();
                }
                shared.sleeping.store(false, Ordering::SeqCst);
            }
        }
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let n = shared.posted.load(Ordering::Acquire);
        if shared.claim(n) {
            // SAFETY: the helper claimed job n, so the caller is inside `join`, waiting for
            // it, and the pointer it stored before posting n is live until `finished` is n.
            let job = unsafe { &mut *shared.job.load(Ordering::Acquire) };
            shared.run(n, job);
        }
        seen = n;
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
    fn without_a_running_helper_the_caller_runs_both_sides() {
        let mut helper = Helper::idle();
        let (mut a, mut b) = (0, 0);
        for _ in 0..3 {
            helper.join(|| a += 1, || b += 1);
        }
        assert_eq!((a, b), (3, 3));
        let caught = catch_unwind(AssertUnwindSafe(|| helper.join(|| {}, || panic!("there"))));
        assert_eq!(
            caught.expect_err("re-raised").downcast_ref::<&str>(),
            Some(&"there")
        );
        helper.join(|| a += 1, || b += 1);
        assert_eq!((a, b), (4, 4));
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
