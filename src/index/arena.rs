//! All the strings of one project index in one buffer: ids and names cost their bytes plus
//! eight, not a heap allocation each.

/// A string stored in a [`StrArena`].
#[derive(Debug, Clone, Copy)]
pub struct StrRef {
    start: u32,
    len: u32,
}

#[derive(Debug, Default)]
pub struct StrArena {
    buf: String,
}

impl StrArena {
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: String::with_capacity(bytes),
        }
    }

    pub fn push(&mut self, s: &str) -> StrRef {
        let start = u32::try_from(self.buf.len()).expect("index strings exceed 4 GiB");
        self.buf.push_str(s);
        StrRef {
            start,
            len: s.len() as u32,
        }
    }

    pub fn get(&self, r: StrRef) -> &str {
        &self.buf[r.start as usize..(r.start + r.len) as usize]
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn bytes(&self) -> usize {
        self.buf.capacity()
    }
}
