//! Checkpoints: everything a run needs to go on exactly where it stopped — every region's
//! weights, optimiser moments, traces and random generators, the world's position and
//! generators, the probes' running state, the brain's delayed signals and the loop's counters.
//!
//! A [`Snapshot`] is one component's state: small values as CBOR (exact floats), large `f32`
//! arrays as raw little-endian bytes. A checkpoint file (`RUN_DIR/checkpoint.bin`, written
//! atomically) is
//!
//! ```text
//! "VALENCE-CHECKPOINT 2\n"  u64 LE length of the header  header (CBOR)  array bytes…  CRC-32
//! ```
//!
//! where the header holds the small values and, per array, its shape and byte offset, and the
//! last four bytes are the CRC-32 (IEEE, little-endian) of everything before them: a file with
//! a flipped bit or a lost tail is refused, never resumed from. Format 1 (no checksum) is
//! still read.
//! On the CPU device a resumed run reproduces an uninterrupted one bit for bit.

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::{Device, Tensor, TensorData};
use ndarray::Array2;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::signal::Signal;

const MAGIC: &[u8] = b"VALENCE-CHECKPOINT 2\n";
/// The first version's header line: files without a checksum, still read (runs started by an
/// earlier valence resume).
const MAGIC_1: &[u8] = b"VALENCE-CHECKPOINT 1\n";

/// The saved state of one component (a region, the world, the probes, the run loop), keyed by
/// field name. Nested components use `scope`d keys (`"regions/vta/weights"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    values: BTreeMap<String, ciborium::Value>,
    arrays: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

/// Where an array lies in the file.
#[derive(Serialize, Deserialize)]
struct ArrayEntry {
    shape: Vec<usize>,
    offset: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    values: BTreeMap<String, ciborium::Value>,
    arrays: BTreeMap<String, ArrayEntry>,
}

fn missing(key: &str) -> Error {
    Error::Checkpoint {
        key: key.to_string(),
        message: format!("no `{key}` saved (written by another version of the model?)"),
    }
}

impl Snapshot {
    /// Stores a small serialisable value (counters, generators, flags, short vectors).
    pub fn put<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        let v = ciborium::Value::serialized(value).expect("checkpoint values serialise");
        self.values.insert(key.to_string(), v);
    }

    /// Whether anything (a value or an array) is stored under `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key) || self.arrays.contains_key(key)
    }

    /// Reads back a value stored with [`Snapshot::put`].
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let v = self.values.get(key).ok_or_else(|| missing(key))?;
        v.deserialized().map_err(|e| Error::Checkpoint {
            key: key.to_string(),
            message: format!("`{key}` does not read back: {e}"),
        })
    }

    /// Stores an `f32` array of the given shape (weights, tables, traces).
    pub fn put_array(&mut self, key: &str, shape: &[usize], data: Vec<f32>) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.arrays.insert(key.to_string(), (shape.to_vec(), data));
    }

    /// Reads back an array, which must have the `shape` the running model expects.
    pub fn array(&self, key: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (saved, data) = self.arrays.get(key).ok_or_else(|| missing(key))?;
        if saved != shape {
            return Err(Error::Checkpoint {
                key: key.to_string(),
                message: format!("`{key}` has shape {saved:?}, the model expects {shape:?}"),
            });
        }
        Ok(data.clone())
    }

    /// Stores a host matrix.
    pub fn put_host(&mut self, key: &str, a: &Array2<f32>) {
        self.put_array(key, &[a.nrows(), a.ncols()], a.iter().copied().collect());
    }

    /// Reads back a host matrix of the expected shape.
    pub fn host(&self, key: &str, shape: [usize; 2]) -> Result<Array2<f32>> {
        let data = self.array(key, &shape)?;
        Ok(Array2::from_shape_vec(shape, data).expect("shape checked"))
    }

    /// Stores a tensor (read back to the host).
    pub fn put_tensor<const D: usize>(&mut self, key: &str, t: &Tensor<D>) {
        let data = t.clone().into_data().try_to_vec::<f32>().expect("f32 tensor");
        self.put_array(key, &t.dims(), data);
    }

    /// Reads back a tensor of the expected shape onto `device`.
    pub fn tensor<const D: usize>(&self, key: &str, dims: [usize; D], device: &Device) -> Result<Tensor<D>> {
        let data = self.array(key, &dims)?;
        Ok(Tensor::from_data(TensorData::new(data, dims), device))
    }

    /// Stores a tensor that may be absent (a previous tick's input before the first tick).
    pub fn put_optional_tensor<const D: usize>(&mut self, key: &str, t: Option<&Tensor<D>>) {
        self.put(&format!("{key}.present"), &t.is_some());
        if let Some(t) = t {
            self.put_tensor(key, t);
        }
    }

    /// Reads back a tensor saved with [`Snapshot::put_optional_tensor`].
    pub fn optional_tensor<const D: usize>(
        &self,
        key: &str,
        dims: [usize; D],
        device: &Device,
    ) -> Result<Option<Tensor<D>>> {
        if self.get::<bool>(&format!("{key}.present"))? {
            Ok(Some(self.tensor(key, dims, device)?))
        } else {
            Ok(None)
        }
    }

    /// Stores a host matrix that may be absent.
    pub fn put_optional_host(&mut self, key: &str, a: Option<&Array2<f32>>) {
        self.put(&format!("{key}.present"), &a.is_some());
        if let Some(a) = a {
            self.put_host(key, a);
        }
    }

    /// Reads back a host matrix saved with [`Snapshot::put_optional_host`].
    pub fn optional_host(&self, key: &str, shape: [usize; 2]) -> Result<Option<Array2<f32>>> {
        if self.get::<bool>(&format!("{key}.present"))? {
            Ok(Some(self.host(key, shape)?))
        } else {
            Ok(None)
        }
    }

    /// Stores a signal as a host matrix.
    pub fn put_signal(&mut self, key: &str, s: &Signal) {
        self.put_host(key, &s.to_host());
    }

    /// The bytes of its arrays (4 per value): a region's dense state.
    pub fn array_bytes(&self) -> u64 {
        self.arrays.values().map(|(_, data)| 4 * data.len() as u64).sum()
    }

    /// Merges `other`'s entries under `prefix/`.
    pub fn nest(&mut self, prefix: &str, other: Snapshot) {
        for (k, v) in other.values {
            self.values.insert(format!("{prefix}/{k}"), v);
        }
        for (k, v) in other.arrays {
            self.arrays.insert(format!("{prefix}/{k}"), v);
        }
    }

    /// The entries under `prefix/`, with the prefix removed.
    pub fn scope(&self, prefix: &str) -> Snapshot {
        let head = format!("{prefix}/");
        let strip = |k: &String| k.strip_prefix(&head).map(str::to_string);
        Snapshot {
            values: self
                .values
                .iter()
                .filter_map(|(k, v)| strip(k).map(|k| (k, v.clone())))
                .collect(),
            arrays: self
                .arrays
                .iter()
                .filter_map(|(k, v)| strip(k).map(|k| (k, v.clone())))
                .collect(),
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut offset = 0u64;
        let arrays = self
            .arrays
            .iter()
            .map(|(k, (shape, data))| {
                let entry = ArrayEntry {
                    shape: shape.clone(),
                    offset,
                };
                offset += 4 * data.len() as u64;
                (k.clone(), entry)
            })
            .collect();
        let mut header = Vec::new();
        ciborium::into_writer(
            &Header {
                values: self.values.clone(),
                arrays,
            },
            &mut header,
        )
        .expect("header serialises");
        let mut out = Vec::with_capacity(MAGIC.len() + 8 + header.len() + offset as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for (_, data) in self.arrays.values() {
            for v in data {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses a file's bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Snapshot> {
        let bad = |what: &str| Error::Run(format!("{}: not a valence checkpoint ({what})", path.display()));
        let rest = if let Some(rest) = bytes.strip_prefix(MAGIC_1) {
            // An earlier valence's checkpoint: read as it is, there is no checksum to verify.
            rest
        } else if bytes.starts_with(MAGIC) {
            let Some((body, crc)) = bytes.split_last_chunk::<4>() else {
                return Err(bad("truncated"));
            };
            if body.len() < MAGIC.len() || crc32fast::hash(body) != u32::from_le_bytes(*crc) {
                return Err(Error::Run(format!(
                    "{}: the checkpoint is damaged (its checksum does not match: changed or cut \
                     off after it was written); it cannot be resumed from",
                    path.display()
                )));
            }
            &body[MAGIC.len()..]
        } else {
            return Err(bad("no header line"));
        };
        if rest.len() < 8 {
            return Err(bad("truncated"));
        }
        let len = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
        let rest = &rest[8..];
        let Ok(len) = usize::try_from(len) else {
            return Err(bad("truncated header"));
        };
        if rest.len() < len {
            return Err(bad("truncated header"));
        }
        let header: Header = ciborium::from_reader(&rest[..len]).map_err(|e| bad(&format!("header: {e}")))?;
        let body = &rest[len..];
        let mut arrays = BTreeMap::new();
        for (k, entry) in header.arrays {
            let raw = entry
                .shape
                .iter()
                .try_fold(4usize, |n, &d| n.checked_mul(d))
                .zip(usize::try_from(entry.offset).ok())
                .and_then(|(n, start)| body.get(start..start.checked_add(n)?))
                .ok_or_else(|| bad(&format!("array `{k}` truncated")))?;
            let data = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            arrays.insert(k, (entry.shape, data));
        }
        Ok(Snapshot {
            values: header.values,
            arrays,
        })
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::metrics::write_atomic(path, &self.to_bytes())
    }

    /// Reads a checkpoint file.
    pub fn read(path: &Path) -> Result<Snapshot> {
        crate::error::regular_file(path)?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Snapshot::from_bytes(&bytes, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_values_and_arrays_through_bytes() {
        let mut inner = Snapshot::default();
        inner.put("step", &17u64);
        inner.put_array("w", &[2, 3], vec![1.0, -2.5, f32::MIN_POSITIVE, 0.0, 1e30, -0.0]);
        let mut outer = Snapshot::default();
        outer.put("phase", &"training");
        outer.nest("regions/vta", inner.clone());
        let back = Snapshot::from_bytes(&outer.to_bytes(), Path::new("c.bin")).unwrap();
        assert_eq!(back, outer);
        assert_eq!(back.scope("regions/vta"), inner);
        assert_eq!(back.scope("regions/vta").get::<u64>("step").unwrap(), 17);
    }

    #[test]
    fn wrong_shapes_missing_keys_and_truncation_are_named() {
        let mut s = Snapshot::default();
        s.put_array("w", &[2, 2], vec![0.0; 4]);
        let err = s.array("w", &[4, 1]).unwrap_err().to_string();
        assert!(
            err.contains("`w` has shape [2, 2], the model expects [4, 1]"),
            "{err}"
        );
        let err = s.get::<u64>("step").unwrap_err().to_string();
        assert!(err.contains("no `step` saved"), "{err}");
        let bytes = s.to_bytes();
        let err = Snapshot::from_bytes(&bytes[..bytes.len() - 3], Path::new("c.bin"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.bin: the checkpoint is damaged"), "{err}");
    }

    /// Any single flipped bit, anywhere in the file, is caught by the checksum.
    #[test]
    fn a_flipped_bit_anywhere_is_refused() {
        let mut s = Snapshot::default();
        s.put("step", &17u64);
        s.put_array("w", &[3], vec![1.0, 2.0, 3.0]);
        let bytes = s.to_bytes();
        assert_eq!(Snapshot::from_bytes(&bytes, Path::new("c.bin")).unwrap(), s);
        for i in 0..bytes.len() {
            for bit in [0, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(
                    Snapshot::from_bytes(&b, Path::new("c.bin")).is_err(),
                    "bit {bit} of byte {i} flipped was read back"
                );
            }
        }
        // A checkpoint of the first format (no checksum) is still read.
        let mut old = MAGIC_1.to_vec();
        old.extend_from_slice(&bytes[MAGIC.len()..bytes.len() - 4]);
        assert_eq!(Snapshot::from_bytes(&old, Path::new("c.bin")).unwrap(), s);
    }
}
