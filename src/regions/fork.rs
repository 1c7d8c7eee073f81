//! # Fork–join for a tick: one helper thread that stays awake between ticks
//!
//! A tick of a few agents takes tens of microseconds. rayon parks an idle worker after a few
//! rounds of yielding, and waking one costs about as much as the work it would take on
//! (`PARALLEL_MIN_AGENTS` records the measurement: at P = 4 rayon halved the cortex's speed).
//! The helper is one thread a process that, after a job, spins for a while ([`SPIN`]) waiting
//! for the next before it parks: ticks that follow each other closely hand over in well under
//! a microsecond. Every region and world that splits its work takes a [`Helper`], a handle on
//! that one thread: the thread still spinning after the PFC's job is the one the world's job
//! goes to next (with a thread each, a spinning helper held one of two cores while another
//! worked). A handle whose thread is serving another caller (another run in the process, or a
//! job that forks again) runs both sides on its caller.
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
use std::sync::{Mutex, OnceLock};
use std::thread;
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
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Shared {
    fn new() -> Self {
        Shared {
            job: AtomicPtr::new(std::ptr::null_mut()),
            posted: AtomicU64::new(0),
            claimed: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            panic: Mutex::new(None),
        }
    }

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

/// The helper thread: one a process, shared by every [`Helper`] (the regions and worlds that
/// split a tick's work in two), so that the thread still spinning after one region's job is
/// the one the next region's job goes to, not a third thread on two cores.
struct Thread {
    shared: Shared,
    handle: thread::Thread,
    /// Taken by the [`Helper::join`] whose job the thread serves.
    busy: AtomicBool,
}

/// The process's helper thread, started on first use where rayon's pool has a second thread
/// (it honours `RAYON_NUM_THREADS`).
fn helper_thread() -> Option<&'static Thread> {
    static THREAD: OnceLock<Option<&'static Thread>> = OnceLock::new();
    *THREAD.get_or_init(|| {
        if rayon::current_num_threads() < 2 {
            return None;
        }
        let (tx, rx) = std::sync::mpsc::channel::<&'static Thread>();
        let handle = thread::Builder::new()
            .name("valence-helper".into())
            .spawn(move || {
                if let Ok(me) = rx.recv() {
                    work(&me.shared);
                }
            })
            .ok()?;
        let me: &'static Thread = Box::leak(Box::new(Thread {
            shared: Shared::new(),
            handle: handle.thread().clone(),
            busy: AtomicBool::new(false),
        }));
        tx.send(me).ok()?;
        Some(me)
    })
}

/// A handle on the helper thread for [`join`](Helper::join).
pub(crate) struct Helper {
    thread: Option<&'static Thread>,
}

impl Helper {
    /// A handle on the process's helper thread where rayon's pool has a second thread to give
    /// (it honours `RAYON_NUM_THREADS`), else `None`.
    pub(crate) fn spawn() -> Option<Helper> {
        helper_thread().map(|thread| Helper { thread: Some(thread) })
    }

    /// A handle without a thread: the caller runs every job (tests that path).
    #[cfg(test)]
    pub(crate) fn idle() -> Helper {
        Helper { thread: None }
    }

    /// Runs `here` on this thread and `there` on the helper (or here, after `here`, when the
    /// helper has not started it by then, or serves another caller: another run in this
    /// process, or a job that forks again); returns when both are done.
    pub(crate) fn join<A, B>(&mut self, here: A, there: B)
    where
        A: FnOnce(),
        B: FnOnce() + Send,
    {
        let taken = |t: &&Thread| {
            t.busy
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        };
        let Some(thread) = self.thread.filter(taken) else {
            here();
            there();
            return;
        };
        // Declared first, dropped last: the thread is free once its job is finished.
        let _free = Free(&thread.busy);
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
        let shared = &thread.shared;
        let n = shared.posted.load(Ordering::Relaxed) + 1;
        shared.job.store(pointer, Ordering::Release);
        shared.posted.store(n, Ordering::SeqCst);
        if shared.sleeping.load(Ordering::SeqCst) {
            thread.handle.unpark();
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

/// When dropped: the helper thread is free for the next [`Helper::join`].
struct Free<'a>(&'a AtomicBool);

impl Drop for Free<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
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

/// The helper's loop: poll, then park; claim the newest job posted (older ones were taken
/// back by the caller) and run it; for as long as the process lives.
fn work(shared: &Shared) {
    let mut seen = 0u64;
    loop {
        let started = Instant::now();
        let mut polls = 0u32;
        while shared.posted.load(Ordering::Acquire) == seen {
            polls += 1;
            if !polls.is_multiple_of(64) {
                std::hint::spin_loop();
            } else if started.elapsed() > SPIN {
                shared.sleeping.store(true, Ordering::SeqCst);
                if shared.posted.load(Ordering::SeqCst) == seen {
                    thread::park();
                }
                shared.sleeping.store(false, Ordering::SeqCst);
            }
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

    /// Handles share one thread; a join while it serves another (here a job that forks again,
    /// on either side) runs both its sides on its caller instead of waiting for it.
    #[test]
    fn a_busy_helper_thread_leaves_both_sides_to_the_caller() {
        let (Some(mut outer), Some(mut inner)) = (Helper::spawn(), Helper::spawn()) else {
            return;
        };
        assert!(std::ptr::eq(outer.thread.unwrap(), inner.thread.unwrap()));
        let mut inner_too = Helper::spawn().expect("a second handle");
        let (mut a, mut b, mut c, mut d) = (0, 0, 0, 0);
        outer.join(
            || inner.join(|| a += 1, || b += 1),
            || inner_too.join(|| c += 1, || d += 1),
        );
        assert_eq!((a, b, c, d), (1, 1, 1, 1));
        let mut after = 0;
        inner.join(|| {}, || after = 3);
        assert_eq!(after, 3);
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
