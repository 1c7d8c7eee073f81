//! e^x of f32 runs, four or eight lanes at a time, with the bits of the platform's `expf`.
//!
//! glibc (2.27 on) computes `expf` in double precision (Szabolcs Nagy's algorithm, shared with
//! ARM's optimized-routines); on x86-64 with AVX2 and FMA it runs a build of it with fused
//! multiply-adds (`__expf_fma`):
//!
//! ```text
//! k + r = x · 32/ln 2 (k an integer, |r| ≤ ½; one fma with the shift 1.5·2⁵²)
//! s     = 2^(k/32)   = T[k mod 32] with k div 32 added to its exponent
//! e^x  ≈ s · (C₀r³ + C₁r² + C₂r + 1), rounded once to f32
//! ```
//!
//! [`exp_in_place`] runs the same operations, in the same order and with the same fused
//! multiply-adds, on four doubles at a time (AVX2 + FMA, T read by a gather) or eight
//! (AVX-512F, T held in registers and read by permutes): the same bits as `f32::exp`, which
//! calls the platform's `expf`, at a fraction of its cost (no call, no branch a value). A path
//! is used only where that has been checked: the CPU has its instructions (AVX2 and FMA are
//! glibc's own condition for `__expf_fma`) and, once a process, it matched `f32::exp` bit for
//! bit on the 65 601 arguments of [`checked`], among them arguments where glibc's result is not
//! the correctly rounded one (a different `expf` — another libc, or a glibc whose `expf` rounds
//! correctly — fails there and every value then goes through `f32::exp`). Arguments with
//! |x| ≥ 88, NaNs and infinities take `f32::exp` too (glibc's own slow path).

use std::sync::OnceLock;

/// glibc's `__exp2f_data` (bit patterns): 2^(i/32) − (i << 47) for i in 0..32.
const TABLE: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

/// 32/ln 2.
const INV_LN2_N: u64 = 0x40471547652b82fe;
/// 1.5·2⁵²: added and taken away, it rounds to an integer (ties to even).
const SHIFT: u64 = 0x4338000000000000;
/// The polynomial's C₀, C₁, C₂ (2^(r/32) − 1 ≈ C₀r³ + C₁r² + C₂r).
const POLY: [u64; 3] = [0x3ebc6af84b912394, 0x3f2ebfce50fac4f3, 0x3f962e42ff0c52d6];
/// Where glibc leaves its fast path: the top 12 bits of |x| above those of 88.0 (0x42a…).
const SLOW_TOP12: u32 = 0x42a;

/// Arguments (bit patterns) at which glibc's `expf` does not return the correctly rounded e^x:
/// every 2 666th of the 170 648 that the ignored test `every_f32` found on glibc 2.36 (all 2³²
/// floats against the f64 `exp` rounded once). A platform `expf` that rounds correctly, or
/// computes another way, differs from [`exp_in_place`] at some of them.
const NOT_CORRECTLY_ROUNDED: [u32; 65] = [
    0x37ff7f01, 0x3b6f450c, 0x3bb95513, 0x3bec61b5, 0x3c33249d, 0x3c7a2176, 0x3ce6abdf, 0x3d418149,
    0x3d8fa494, 0x3de411cf, 0x3e2fd021, 0x3e7b7f4b, 0x3ebfee4a, 0x3efb9b5d, 0x3f3317bb, 0x3f83064c,
    0x3fbdcf79, 0x3ffeb7a8, 0x40410438, 0x4080a5dd, 0x40c25fdb, 0x4103cb30, 0x41459948, 0x418483e7,
    0x41c4bbdc, 0x420695cc, 0x42484d5e, 0x428a7cea, 0xbad98930, 0xbb501c00, 0xbb8665b6, 0xbbaab9e9,
    0xbbc75322, 0xbbe0a976, 0xbbf9cfe8, 0xbc1748a1, 0xbc561195, 0xbc717930, 0xbc8f456e, 0xbce193a4,
    0xbcfd958a, 0xbd277c0d, 0xbd631278, 0xbd924242, 0xbdc1036a, 0xbdf41519, 0xbe27b7b5, 0xbe62f210,
    0xbe9df913, 0xbee10f86, 0xbf303188, 0xbf62bee9, 0xbfa55b4a, 0xbfdf7e44, 0xc022b073, 0xc0650db9,
    0xc0a59bb0, 0xc0e705b4, 0xc1282c0f, 0xc16a8136, 0xc1ac2dea, 0xc1ebb7f1, 0xc22f1536, 0xc26fe538,
    0xc2b0cdfa,
];

/// Every argument checked once a process before a vector path is used: a spread over
/// every exponent and sign, and [`NOT_CORRECTLY_ROUNDED`].
fn checked() -> impl Iterator<Item = f32> {
    let spread = (0..1u32 << 16).map(|i| f32::from_bits(i.wrapping_mul(0x9e37_79b1) ^ (i << 16)));
    let hard = NOT_CORRECTLY_ROUNDED.iter().map(|&b| f32::from_bits(b));
    spread.chain(hard)
}

/// How many arguments [`checked`] yields.
#[cfg(test)]
const CHECKED: usize = (1 << 16) + NOT_CORRECTLY_ROUNDED.len();

/// How [`exp_in_place`] runs here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lanes {
    /// `f32::exp` one value at a time.
    One,
    /// Four at a time (AVX2 + FMA; the table read by a gather).
    Four,
    /// Eight at a time (AVX-512F; the table held in four registers and read by two permutes:
    /// on an AMD Zen 4 a gather of four costs more than a lane's arithmetic).
    Eight,
}

/// The widest path the CPU runs whose bits matched `f32::exp`'s on every argument of
/// [`checked`]: checked once a process.
fn lanes() -> Lanes {
    static LANES: OnceLock<Lanes> = OnceLock::new();
    *LANES.get_or_init(|| {
        let xs: Vec<f32> = checked().collect();
        let want: Vec<u32> = xs.iter().map(|x| x.exp().to_bits()).collect();
        let matches = |path: Lanes| {
            let mut got = xs.clone();
            // SAFETY: `path` is one the CPU runs (`runs`).
            unsafe { run(path, &mut got) };
            got.iter().map(|x| x.to_bits()).eq(want.iter().copied())
        };
        [Lanes::Eight, Lanes::Four]
            .into_iter()
            .find(|&path| runs(path) && matches(path))
            .unwrap_or(Lanes::One)
    })
}

/// Whether the CPU has what `path` needs.
fn runs(path: Lanes) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2_fma = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        match path {
            Lanes::One => true,
            Lanes::Four => avx2_fma,
            Lanes::Eight => avx2_fma && std::is_x86_feature_detected!("avx512f"),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        path == Lanes::One
    }
}

/// x ← e^x for every x in `xs`, with the bits of `f32::exp`.
pub(crate) fn exp_in_place(xs: &mut [f32]) {
    // SAFETY: `lanes` picks only a path the CPU runs.
    unsafe { run(lanes(), xs) }
}

/// [`exp_in_place`] by `path`.
///
/// # Safety
/// The CPU runs `path` ([`runs`]).
unsafe fn run(path: Lanes, xs: &mut [f32]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's.
        Lanes::Eight => unsafe { exp_avx512(xs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's.
        Lanes::Four => unsafe { exp_avx2_fma(xs) },
        _ => xs.iter_mut().for_each(|x| *x = x.exp()),
    }
}

/// [`exp_in_place`]'s four-lane path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_avx2_fma(xs: &mut [f32]) {
    use std::arch::x86_64::*;
    let d = |bits: u64| _mm256_set1_pd(f64::from_bits(bits));
    let (inv_ln2_n, shift) = (d(INV_LN2_N), d(SHIFT));
    let (c0, c1, c2) = (d(POLY[0]), d(POLY[1]), d(POLY[2]));
    let one = _mm256_set1_pd(1.0);
    let low5 = _mm256_set1_epi64x(31);
    let abs = _mm_set1_epi32(0x7fff_ffff);
    let slow = _mm_set1_epi32(((SLOW_TOP12 + 1) << 20) as i32);
    let mut chunks = xs.chunks_exact_mut(4);
    for chunk in &mut chunks {
        // SAFETY: `chunk` holds four f32s; unaligned loads and stores.
        let x = unsafe { _mm_loadu_ps(chunk.as_ptr()) };
        // |x| ≥ 2^(SLOW_TOP12 + 1 − 1023 …): glibc's slow path (signed compare: NaN's and
        // infinities' magnitudes are the largest).
        let magnitude = _mm_and_si128(_mm_castps_si128(x), abs);
        if _mm_movemask_epi8(_mm_cmpgt_epi32(slow, magnitude)) != 0xffff {
            for x in chunk {
                *x = x.exp();
            }
            continue;
        }
        let xd = _mm256_cvtps_pd(x);
        let kd_shifted = _mm256_fmadd_pd(inv_ln2_n, xd, shift);
        let ki = _mm256_castpd_si256(kd_shifted);
        let kd = _mm256_sub_pd(kd_shifted, shift);
        let r = _mm256_fmsub_pd(inv_ln2_n, xd, kd);
        // SAFETY: indices are masked to 0..32, TABLE's length.
        let t = unsafe { _mm256_i64gather_epi64::<8>(TABLE.as_ptr().cast(), _mm256_and_si256(ki, low5)) };
        let s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64::<47>(ki)));
        let z = _mm256_fmadd_pd(r, c0, c1);
        let r2 = _mm256_mul_pd(r, r);
        let y = _mm256_fmadd_pd(r, c2, one);
        let y = _mm256_mul_pd(_mm256_fmadd_pd(z, r2, y), s);
        // SAFETY: as the load.
        unsafe { _mm_storeu_ps(chunk.as_mut_ptr(), _mm256_cvtpd_ps(y)) };
    }
    for x in chunks.into_remainder() {
        *x = x.exp();
    }
}

/// [`exp_in_place`]'s eight-lane path: [`exp_avx2_fma`]'s operations on eight doubles, the
/// table's entry chosen by two permutes (entries 0–15 and 16–31 by the index's low four bits)
/// and a blend (by its fifth bit) instead of a gather. The last values (fewer than eight) go
/// to the four-lane path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn exp_avx512(xs: &mut [f32]) {
    use std::arch::x86_64::*;
    let d = |bits: u64| _mm512_set1_pd(f64::from_bits(bits));
    let (inv_ln2_n, shift) = (d(INV_LN2_N), d(SHIFT));
    let (c0, c1, c2) = (d(POLY[0]), d(POLY[1]), d(POLY[2]));
    let one = _mm512_set1_pd(1.0);
    let quarter = |i: usize| {
        let t: [u64; 8] = TABLE[8 * i..8 * i + 8].try_into().expect("eight entries");
        // SAFETY: `t` holds eight u64s; an unaligned load.
        unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
    };
    let (t0, t1, t2, t3) = (quarter(0), quarter(1), quarter(2), quarter(3));
    let bit4 = _mm512_set1_epi64(16);
    let abs = _mm256_set1_epi32(0x7fff_ffff);
    let slow = _mm256_set1_epi32(((SLOW_TOP12 + 1) << 20) as i32);
    let mut chunks = xs.chunks_exact_mut(8);
    for chunk in &mut chunks {
        // SAFETY: `chunk` holds eight f32s; unaligned loads and stores.
        let x = unsafe { _mm256_loadu_ps(chunk.as_ptr()) };
        let magnitude = _mm256_and_si256(_mm256_castps_si256(x), abs);
        if _mm256_movemask_epi8(_mm256_cmpgt_epi32(slow, magnitude)) != -1 {
            for x in chunk {
                *x = x.exp();
            }
            continue;
        }
        let xd = _mm512_cvtps_pd(x);
        let kd_shifted = _mm512_fmadd_pd(inv_ln2_n, xd, shift);
        let ki = _mm512_castpd_si512(kd_shifted);
        let kd = _mm512_sub_pd(kd_shifted, shift);
        let r = _mm512_fmsub_pd(inv_ln2_n, xd, kd);
        // T[k mod 32]: the permutes read the index's low four bits.
        let low = _mm512_permutex2var_epi64(t0, ki, t1);
        let high = _mm512_permutex2var_epi64(t2, ki, t3);
        let t = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(ki, bit4), low, high);
        let s = _mm512_castsi512_pd(_mm512_add_epi64(t, _mm512_slli_epi64::<47>(ki)));
        let z = _mm512_fmadd_pd(r, c0, c1);
        let r2 = _mm512_mul_pd(r, r);
        let y = _mm512_fmadd_pd(r, c2, one);
        let y = _mm512_mul_pd(_mm512_fmadd_pd(z, r2, y), s);
        // SAFETY: as the load.
        unsafe { _mm256_storeu_ps(chunk.as_mut_ptr(), _mm512_cvtpd_ps(y)) };
    }
    // SAFETY: the CPU has AVX2 and FMA (this function's features).
    unsafe { exp_avx2_fma(chunks.into_remainder()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit patterns over every sign and exponent, glibc's slow-path boundaries, subnormals,
    /// zeros, infinities and NaNs.
    fn arguments() -> Vec<f32> {
        let mut xs: Vec<f32> = (0..1u32 << 20)
            .map(|i| f32::from_bits(i.wrapping_mul(4099)))
            .collect();
        xs.extend((-2000..2000).map(|i| i as f32 * 0.0625));
        for edge in [88.0f32, 88.72284, -88.0, -103.27893, -103.97208, 0.0] {
            let b = edge.to_bits();
            xs.extend((b.saturating_sub(64)..b + 64).map(f32::from_bits));
        }
        xs.extend([
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -0.0,
            f32::MIN_POSITIVE,
            1e-45,
        ]);
        xs
    }

    #[test]
    fn exp_in_place_gives_the_bits_of_f32_exp() {
        let xs = arguments();
        let want: Vec<u32> = xs.iter().map(|x| x.exp().to_bits()).collect();
        let mut got = xs.clone();
        exp_in_place(&mut got);
        let got: Vec<u32> = got.iter().map(|x| x.to_bits()).collect();
        let wrong = got.iter().zip(&want).filter(|(g, w)| g != w).count();
        assert_eq!(wrong, 0, "{wrong} of {} differ from f32::exp", xs.len());
    }

    /// With glibc's `expf` the widest path the CPU runs is in use (else the test above holds
    /// trivially).
    #[test]
    #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
    fn the_widest_path_is_used_with_glibc() {
        let widest = [Lanes::Eight, Lanes::Four, Lanes::One]
            .into_iter()
            .find(|&p| runs(p));
        assert_eq!(Some(lanes()), widest);
        assert_eq!(checked().count(), CHECKED);
    }

    /// The vector paths the CPU runs.
    fn vector_paths() -> Vec<Lanes> {
        [Lanes::Four, Lanes::Eight]
            .into_iter()
            .filter(|&p| runs(p))
            .collect()
    }

    /// Every f32 (`cargo test --release --lib expf -- --ignored`, ~30 s on two cores): the
    /// vector paths the CPU runs give `f32::exp`'s bits; prints the arguments where that is not the
    /// correctly rounded e^x (the f64 `exp` rounded once), [`NOT_CORRECTLY_ROUNDED`]'s source.
    #[test]
    #[ignore = "all 2^32 floats: run by hand"]
    fn every_f32() {
        let paths = vector_paths();
        if paths.is_empty() {
            panic!("no AVX2 and FMA here: no vector path can run");
        }
        let half = |lo: u64, hi: u64| {
            let (mut wrong, mut not_rounded) = (0u64, Vec::new());
            let mut xs = vec![0f32; 1 << 16];
            for start in (lo..hi).step_by(1 << 16) {
                for (i, x) in xs.iter_mut().enumerate() {
                    *x = f32::from_bits((start + i as u64) as u32);
                }
                let got: Vec<Vec<f32>> = paths
                    .iter()
                    .map(|&path| {
                        let mut got = xs.clone();
                        // SAFETY: `vector_paths` holds paths the CPU runs.
                        unsafe { run(path, &mut got) };
                        got
                    })
                    .collect();
                for (i, x) in xs.iter().enumerate() {
                    let libm = x.exp();
                    wrong += got
                        .iter()
                        .map(|g| u64::from(g[i].to_bits() != libm.to_bits()))
                        .sum::<u64>();
                    if libm.is_finite() && libm.to_bits() != ((*x as f64).exp() as f32).to_bits() {
                        not_rounded.push(x.to_bits());
                    }
                }
            }
            (wrong, not_rounded)
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| half(0, 1 << 31));
            let b = s.spawn(|| half(1 << 31, 1 << 32));
            (a.join().unwrap(), b.join().unwrap())
        });
        let mut not_rounded = a.1;
        not_rounded.extend(b.1);
        not_rounded.sort_unstable();
        let step = (not_rounded.len() / 64).max(1);
        let sample: Vec<String> = not_rounded
            .iter()
            .step_by(step)
            .map(|b| format!("{b:#010x}"))
            .collect();
        println!(
            "{} not correctly rounded; every {step}th: {}",
            not_rounded.len(),
            sample.join(", ")
        );
        assert_eq!(
            a.0 + b.0,
            0,
            "{} of 2^32 × {paths:?} differ from f32::exp",
            a.0 + b.0
        );
    }

    /// Where glibc's `expf` is not correctly rounded, [`exp_in_place`] is not either: the check
    /// in [`lanes`] tells a correctly rounded `expf` apart.
    #[test]
    #[cfg(target_env = "gnu")]
    fn the_hard_arguments_tell_a_correctly_rounded_expf_apart() {
        let mut ys: Vec<f32> = NOT_CORRECTLY_ROUNDED.iter().map(|&b| f32::from_bits(b)).collect();
        exp_in_place(&mut ys);
        for (&b, y) in NOT_CORRECTLY_ROUNDED.iter().zip(&ys) {
            let rounded = (f64::from(f32::from_bits(b))).exp() as f32;
            assert_ne!(y.to_bits(), rounded.to_bits(), "{b:#010x}");
        }
    }

    /// Each vector path itself (not the dispatch) against `f32::exp`, where it can run, on
    /// runs of every length from 0 to 19 as well (the eight-lane path hands the last values
    /// to the four-lane one).
    #[test]
    fn each_vector_path_matches_f32_exp_and_the_slow_path_is_libms() {
        let xs = arguments();
        for path in vector_paths() {
            let mut got = xs.clone();
            // SAFETY: `vector_paths` holds paths the CPU runs.
            unsafe { run(path, &mut got) };
            for (x, g) in xs.iter().zip(&got) {
                assert_eq!(g.to_bits(), x.exp().to_bits(), "{path:?}: exp({x:e})");
            }
            for len in 0..20 {
                let mut got = xs[1000..1000 + len].to_vec();
                // SAFETY: as above.
                unsafe { run(path, &mut got) };
                let want: Vec<u32> = xs[1000..1000 + len].iter().map(|x| x.exp().to_bits()).collect();
                assert_eq!(
                    got.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
                    want,
                    "{path:?}, {len}"
                );
            }
        }
    }
}
