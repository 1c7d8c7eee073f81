//! The simulator's random number generator: xoshiro256++ (Blackman & Vigna 2018), the same
//! generator and seeding (`rand_core`'s PCG32 expansion of a `u64`) as `rand` 0.8's
//! `SmallRng` on 64-bit targets — so results
//! are those `SmallRng` gave — but with its state visible to serde, so that a checkpoint can
//! store it and a resumed run draws the same numbers.

use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// xoshiro256++ with a serialisable state. Every random draw of a region or world goes through
/// one of these (one per agent or per controller), never through a global generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRng {
    s: [u64; 4],
}

impl SeedableRng for SimRng {
    type Seed = [u8; 32];

    fn from_seed(seed: [u8; 32]) -> Self {
        if seed.iter().all(|&x| x == 0) {
            // An all-zero state would stay zero; xoshiro's own SplitMix64 seeding of 0 instead.
            return Self::from_seed(splitmix_seed(0));
        }
        let mut s = [0u64; 4];
        for (word, chunk) in s.iter_mut().zip(seed.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        SimRng { s }
    }
}

/// 32 seed bytes from SplitMix64 (what `Xoshiro256PlusPlus::seed_from_u64` uses).
fn splitmix_seed(mut state: u64) -> [u8; 32] {
    const PHI: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        state = state.wrapping_add(PHI);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    seed
}

impl RngCore for SimRng {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        // The upper bits: the lowest have linear dependencies.
        (self.next_u64() >> 32) as u32
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core_fill(self, dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Little-endian fill from successive `next_u64`s, as `rand_core::impls::fill_bytes_via_next`.
fn rand_core_fill(rng: &mut SimRng, dest: &mut [u8]) {
    let mut chunks = dest.chunks_exact_mut(8);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let rest = chunks.into_remainder();
    if rest.len() > 4 {
        let bytes = rng.next_u64().to_le_bytes();
        rest.copy_from_slice(&bytes[..rest.len()]);
    } else if !rest.is_empty() {
        let bytes = rng.next_u32().to_le_bytes();
        rest.copy_from_slice(&bytes[..rest.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use rand::rngs::SmallRng;

    #[test]
    fn draws_exactly_what_rand_small_rng_draws() {
        for seed in [0u64, 1, 42, u64::MAX] {
            assert_eq!(
                SimRng::from_seed([0; 32]).next_u64(),
                SmallRng::from_seed([0; 32]).next_u64()
            );
            let (mut ours, mut theirs) = (SimRng::seed_from_u64(seed), SmallRng::seed_from_u64(seed));
            for _ in 0..100 {
                assert_eq!(ours.next_u64(), theirs.next_u64());
                assert_eq!(ours.next_u32(), theirs.next_u32());
                assert_eq!(ours.r#gen::<f32>(), theirs.r#gen::<f32>());
                assert_eq!(ours.gen_range(0..17usize), theirs.gen_range(0..17usize));
            }
            let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
            ours.fill_bytes(&mut a);
            theirs.fill_bytes(&mut b);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn a_restored_state_continues_the_stream() {
        let mut rng = SimRng::seed_from_u64(7);
        rng.next_u64();
        let saved = serde_json::to_string(&rng).unwrap();
        let expected: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
        let mut restored: SimRng = serde_json::from_str(&saved).unwrap();
        assert_eq!((0..5).map(|_| restored.next_u64()).collect::<Vec<_>>(), expected);
    }
}
