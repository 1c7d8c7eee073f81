//! Per-agent tables on a burn device, as the skip-gram cortex (`sgns_tables.rs`) and the world
//! model (`world_tables.rs`) keep them there: agent a's token w is row a·V + w of the whole
//! table, stored in blocks of n agents (row (a mod n)·V + w of block ⌊a / n⌋), n as many as fit
//! the device's largest buffer ([`crate::device::max_tensor_bytes`]). A GPU binds a tensor as one
//! storage buffer: wgpu guarantees 128 MiB, and a kernel over a larger one fails (on lavapipe,
//! 32 agents' WordNet tables, 221 MB, did). Reads gather rows, writes scatter them, each block's
//! share of a row list at a time; on the CPU the whole table is one block.

use std::ops::Range;

use burn::prelude::{Device, Int, Tensor, TensorData};
use burn::tensor::IndexingUpdateOp;

/// Smallest norm a latent is divided by on a device: a zero latent stays zero (the host skips
/// the division).
pub(crate) const TINY: f32 = 1e-30;

/// Row indices as a tensor on `device`.
pub(crate) fn ints(ids: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = ids.len();
    Tensor::from_data(TensorData::new(ids, [n]), device)
}

/// Values of a given shape as a tensor on `device`.
pub(crate) fn floats<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A tensor's values read back to the host.
pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// How many agents' tables of `vocab_size` rows of `width` floats fit `max_bytes` (at least 1).
pub(crate) fn agents_per_block(max_bytes: u64, vocab_size: usize, width: usize) -> usize {
    let agent = (4 * vocab_size as u64 * width as u64).max(1);
    (max_bytes / agent).clamp(1, usize::MAX as u64) as usize
}

/// P agents' tables of V rows of one width, in blocks of `agents` agents.
pub(crate) struct Blocked {
    blocks: Vec<Tensor<2>>,
    /// Agents a block holds.
    agents: usize,
    /// Rows a block holds (its agents × V).
    rows: usize,
    width: usize,
    device: Device,
}

impl Blocked {
    /// Uploads `[P·V·width]` values (agent-major) in blocks of `agents` agents.
    pub fn upload(values: Vec<f32>, [p, v, width]: [usize; 3], agents: usize, device: &Device) -> Self {
        let rows = agents.max(1) * v;
        let blocks = if p <= agents {
            vec![floats(values, [p * v, width], device)]
        } else {
            values
                .chunks(rows * width)
                .map(|c| floats(c.to_vec(), [c.len() / width, width], device))
                .collect()
        };
        Blocked {
            blocks,
            agents: agents.max(1),
            rows,
            width,
            device: device.clone(),
        }
    }

    /// Agents a block holds.
    pub fn agents(&self) -> usize {
        self.agents
    }

    /// The blocks, in agent order (each `[its agents·V, width]`).
    pub fn blocks(&self) -> &[Tensor<2>] {
        &self.blocks
    }

    /// Every value back on the host, agent-major.
    pub fn download(&self) -> Vec<f32> {
        self.blocks.iter().flat_map(|b| to_vec(b.clone())).collect()
    }

    /// The runs of `rows` that fall in one block: (block, positions in `rows`).
    fn runs(&self, rows: &[i64]) -> Vec<(usize, Range<usize>)> {
        let mut runs: Vec<(usize, Range<usize>)> = Vec::new();
        for (i, &r) in rows.iter().enumerate() {
            let block = r as usize / self.rows;
            match runs.last_mut() {
                Some((b, range)) if *b == block => range.end = i + 1,
                _ => runs.push((block, i..i + 1)),
            }
        }
        runs
    }

    /// `rows` of a run as row indices of its block.
    fn local(&self, block: usize, rows: &[i64]) -> Tensor<1, Int> {
        let first = (block * self.rows) as i64;
        ints(rows.iter().map(|r| r - first).collect(), &self.device)
    }

    /// The rows `rows` (of the whole table), `[N, width]`.
    pub fn select(&self, rows: &[i64]) -> Tensor<2> {
        if self.blocks.len() == 1 {
            return self.blocks[0]
                .clone()
                .select(0, ints(rows.to_vec(), &self.device));
        }
        let parts: Vec<Tensor<2>> = self
            .runs(rows)
            .into_iter()
            .map(|(b, run)| self.blocks[b].clone().select(0, self.local(b, &rows[run])))
            .collect();
        if parts.is_empty() {
            Tensor::empty([0, self.width], &self.device)
        } else {
            Tensor::cat(parts, 0)
        }
    }

    /// Row `rows[i]` ⊕= `values[i]` (⊕ by `op`; with `Add` repeated rows sum).
    pub fn update(&mut self, rows: &[i64], values: Tensor<2>, op: IndexingUpdateOp) {
        if rows.is_empty() {
            return;
        }
        let width = self.width;
        for (b, run) in self.runs(rows) {
            let local = self.local(b, &rows[run.clone()]);
            let part = if run.len() == rows.len() {
                values.clone()
            } else {
                values.clone().slice([run, 0..width])
            };
            // Taken out of the list (an empty tensor stays behind), so the scatter owns the
            // block's only handle and writes in place: with the handle shared, a scatter copies
            // the whole block first (measured on lavapipe: the tick update 6× slower at P = 1).
            let block = std::mem::replace(&mut self.blocks[b], Tensor::empty([0, width], &self.device));
            self.blocks[b] = block.select_assign(0, local, part, op);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three agents in blocks of two, against one block: the same rows read, the same rows
    /// written, whatever the order of the row list.
    #[test]
    fn blocks_read_and_write_as_one_table() {
        let device = Device::flex();
        let (p, v, w) = (3, 4, 2);
        let values: Vec<f32> = (0..p * v * w).map(|x| x as f32).collect();
        let mut one = Blocked::upload(values.clone(), [p, v, w], 3, &device);
        let mut two = Blocked::upload(values, [p, v, w], 2, &device);
        assert_eq!((one.blocks().len(), two.blocks().len()), (1, 2));
        let rows = [11, 0, 9, 9, 5, 8, 3];
        assert_eq!(to_vec(one.select(&rows)), to_vec(two.select(&rows)));
        assert_eq!(to_vec(two.select(&[9]))[..], [18.0, 19.0]);
        // Row i of the deltas is [2i, 2i + 1] / 8; rows 9 and 9 sum.
        let delta = |n: usize| floats((0..n * w).map(|x| x as f32 / 8.0).collect(), [n, w], &device);
        one.update(&rows, delta(rows.len()), IndexingUpdateOp::Add);
        two.update(&rows, delta(rows.len()), IndexingUpdateOp::Add);
        assert_eq!(one.download(), two.download());
        let all = two.download();
        assert_eq!(all[9 * w], 18.0 + 4.0 / 8.0 + 6.0 / 8.0);
        assert_eq!(all[5 * w], 10.0 + 8.0 / 8.0);
        one.update(&rows[..3], delta(3), IndexingUpdateOp::Assign);
        two.update(&rows[..3], delta(3), IndexingUpdateOp::Assign);
        assert_eq!(one.download(), two.download());
        let all = two.download();
        assert_eq!((all[11 * w], all[0], all[9 * w]), (0.0, 2.0 / 8.0, 4.0 / 8.0));
        assert_eq!(all[5 * w], 11.0, "a row not listed keeps its value");
        assert_eq!(agents_per_block(128 << 20, 27_000, 64), 19);
        assert_eq!(agents_per_block(10, 27_000, 64), 1);
    }
}
