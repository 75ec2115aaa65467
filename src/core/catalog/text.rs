//! Title normalisation: the one place that decides when two spellings are
//! "the same" for look-ups.
//!
//! NFKC (full-width Latin and half-width katakana become ordinary), lower
//! case, katakana folded to hiragana, and everything that is not a letter or
//! digit (punctuation, symbols, emoji, zero-width and direction marks) treated
//! as a word break.

use unicode_normalization::UnicodeNormalization;

/// A normalised title: its words, and the words run together as one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub words: Vec<String>,
    pub key: String,
}

/// Folds `text` into words and a key.
pub fn fold(text: &str) -> Folded {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.nfkc() {
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                word.push(kana_fold(lower));
            }
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let key = words.concat();
    Folded { words, key }
}

/// A lighter normal form that keeps punctuation: NFKC, lower case and single
/// spaces. It tells apart titles that [`fold`] makes equal.
pub fn light(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.nfkc().collect::<String>().split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Katakana to hiragana, so メタリック and めたりっく match.
fn kana_fold(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Removes control, format (zero-width, bidirectional) and other invisible
/// characters from user text and collapses runs of white space.
pub fn clean_input(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !is_invisible(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width space, joiners, LRM/RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}'              // byte-order mark
            | '\u{00AD}'              // soft hyphen
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_width_and_punctuation_do_not_matter() {
        assert_eq!(fold("Steins;Gate").key, fold("steins gate").key);
        assert_eq!(fold("ＭＥＴＡＬＬＩＣ　ＲＯＵＧＥ").key, "metallicrouge");
        assert_eq!(
            fold("Re:Zero − Starting Life").words,
            ["re", "zero", "starting", "life"]
        );
    }

    #[test]
    fn katakana_folds_to_hiragana_and_half_width_to_full() {
        assert_eq!(
            fold("メタリックルージュ").key,
            fold("めたりっくるーじゅ").key
        );
        assert_eq!(fold("ﾒﾀﾘｯｸﾙｰｼﾞｭ").key, fold("メタリックルージュ").key);
    }

    #[test]
    fn chinese_is_kept_as_is() {
        assert_eq!(fold("金属口红").key, "金属口红");
    }

    #[test]
    fn invisible_characters_and_emoji_are_word_breaks() {
        assert_eq!(fold("frie\u{200B}ren 🔥").key, "frieren");
        assert_eq!(fold("🔥🔥").key, "");
        assert_eq!(clean_input("  a\u{202E}b\t\n c\u{0}  "), "ab c");
    }
}
