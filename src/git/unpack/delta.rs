//! Applying a git delta (copy and insert instructions) to its base.

/// Applies a git delta to `base`; the result may not exceed `max` bytes.
pub fn apply_delta(base: &[u8], delta: &[u8], max: u64) -> Result<Vec<u8>, &'static str> {
    let mut i = 0;
    let varint = |i: &mut usize| -> Result<u64, &'static str> {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let b = *delta.get(*i).ok_or("delta header is truncated")?;
            *i += 1;
            if shift > 63 {
                return Err("delta header too long");
            }
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
    };
    let base_size = varint(&mut i)?;
    let result_size = varint(&mut i)?;
    if base_size != base.len() as u64 {
        return Err("delta base size differs from the base");
    }
    if result_size > max {
        return Err("delta result is larger than allowed");
    }
    let mut out = Vec::with_capacity(result_size as usize);
    while i < delta.len() {
        let op = delta[i];
        i += 1;
        if op & 0x80 != 0 {
            let mut field = |bits: u8, shifts: std::ops::Range<u32>| -> Result<u64, &'static str> {
                let mut v = 0u64;
                for (n, shift) in shifts.enumerate() {
                    if op & (bits << n) != 0 {
                        v |= u64::from(*delta.get(i).ok_or("delta copy is truncated")?)
                            << (shift * 8);
                        i += 1;
                    }
                }
                Ok(v)
            };
            let offset = field(0x01, 0..4)?;
            let mut len = field(0x10, 0..3)?;
            if len == 0 {
                len = 0x10000;
            }
            let end = offset.checked_add(len).ok_or("delta copy overflows")?;
            if end > base.len() as u64 {
                return Err("delta copies from outside its base");
            }
            out.extend_from_slice(&base[offset as usize..end as usize]);
        } else if op != 0 {
            let data = delta
                .get(i..i + op as usize)
                .ok_or("delta insert is truncated")?;
            out.extend_from_slice(data);
            i += op as usize;
        } else {
            return Err("delta has a reserved instruction");
        }
        if out.len() as u64 > result_size {
            return Err("delta writes more than its declared size");
        }
    }
    if out.len() as u64 != result_size {
        return Err("delta result size differs from its header");
    }
    Ok(out)
}
