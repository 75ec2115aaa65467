//! A command's arguments by option name ([`Args`]), as a platform hands them
//! over (Discord's typed options) or as [`Args::from_text`] reads them from
//! a chat line following the command's [`TextForm`].

use super::spec::{CommandSpec, OptionKind, TextForm};
use super::{ParseError, usage};

/// One argument's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(i64),
    /// A role id (Discord).
    Role(u64),
    /// `key=value` pairs, in the order given.
    Pairs(Vec<(String, String)>),
}

/// A command's arguments: at most one value per option name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    values: Vec<(String, Value)>,
}

impl Args {
    pub fn new() -> Args {
        Args::default()
    }

    /// Sets `name` (replacing an earlier value).
    pub fn set(&mut self, name: &str, value: Value) {
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.values.push((name.to_owned(), value)),
        }
    }

    /// `set`, for building `Args` in one expression.
    pub fn with(mut self, name: &str, value: Value) -> Args {
        self.set(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value as text (numbers and roles as their digits); `None` when
    /// absent or empty.
    pub fn text(&self, name: &str) -> Option<String> {
        let text = match self.get(name)? {
            Value::Text(t) => t.trim().to_owned(),
            Value::Integer(n) => n.to_string(),
            Value::Role(r) => r.to_string(),
            Value::Pairs(_) => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// The `key=value` pairs of a [`OptionKind::Pairs`] option: as read from
    /// a chat line, or parsed from the text a platform's form field holds.
    pub fn pairs(
        &self,
        name: &str,
        usage_line: &'static str,
    ) -> Result<Vec<(String, String)>, ParseError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Pairs(pairs)) => Ok(pairs.clone()),
            Some(Value::Text(text)) => {
                let tokens = tokenize(text)?;
                tokens
                    .iter()
                    .map(|t| t.pair().map(|(k, v)| (k, v.trim().to_owned())))
                    .zip(&tokens)
                    .map(|(pair, token)| pair.ok_or_else(|| not_a_pair(&token.text, usage_line)))
                    .collect()
            }
            Some(_) => Err(usage("Give key=value pairs.", usage_line)),
        }
    }

    /// Reads a chat line's arguments (after the command's name) the way
    /// `spec` writes them.
    pub fn from_text(spec: &CommandSpec, line: &str) -> Result<Args, ParseError> {
        let line = line.trim();
        let mut args = Args::new();
        let put = |args: &mut Args, name: &str, text: &str| {
            if !text.is_empty() {
                args.set(name, Value::Text(text.to_owned()));
            }
        };
        match spec.text {
            TextForm::Bare => {
                if !line.is_empty() {
                    return Err(usage(
                        format!("/anime {} takes nothing after it.", spec.name),
                        spec.usage,
                    ));
                }
            }
            TextForm::Whole(name) => put(&mut args, name, line),
            TextForm::LeadLast { lead, last } => {
                let required = spec.option(last).is_some_and(|o| o.required);
                match line.rsplit_once(char::is_whitespace) {
                    Some((words, word)) if required || looks_numeric(word) => {
                        put(&mut args, lead, words.trim());
                        put(&mut args, last, word);
                    }
                    None if !required && looks_numeric(line) => put(&mut args, last, line),
                    _ => put(&mut args, lead, line),
                }
            }
            TextForm::FirstRest { first, rest } => {
                let (word, tail) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                put(&mut args, first, word);
                put(&mut args, rest, tail.trim());
            }
            TextForm::LeadPairs { lead } => {
                let tokens = tokenize(line)?;
                let split = tokens
                    .iter()
                    .position(|t| t.pair().is_some())
                    .unwrap_or(tokens.len());
                let words: Vec<&str> = tokens[..split].iter().map(|t| t.text.as_str()).collect();
                put(&mut args, lead, &words.join(" "));
                let rest = spec.options.iter().find(|o| o.kind == OptionKind::Pairs);
                let mut others = Vec::new();
                for token in &tokens[split..] {
                    let (key, value) = token
                        .pair()
                        .ok_or_else(|| not_a_pair(&token.text, spec.usage))?;
                    let value = value.trim().to_owned();
                    match spec.options.iter().find(|o| o.keys.contains(&key.as_str())) {
                        Some(option) => args.set(option.name, Value::Text(value)),
                        None if rest.is_some() => others.push((key, value)),
                        None => {
                            return Err(usage(format!("\"{key}=\" is not used here."), spec.usage));
                        }
                    }
                }
                if let Some(rest) = rest
                    && !others.is_empty()
                {
                    args.set(rest.name, Value::Pairs(others));
                }
            }
        }
        Ok(args)
    }
}

/// Whether a word is meant as a number (digits, perhaps signed), even one
/// too large for any option: it is then refused as out of range rather
/// than read as text.
fn looks_numeric(word: &str) -> bool {
    let digits = word.strip_prefix(['-', '+']).unwrap_or(word);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

fn not_a_pair(text: &str, usage_line: &'static str) -> ParseError {
    usage(
        format!("\"{text}\" should be a key=value pair (quote values with spaces)."),
        usage_line,
    )
}

/// A token of a command line; quoted tokens never count as `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    quoted: bool,
}

impl Token {
    /// `(key, value)` when the token is an unquoted `key=value` pair.
    fn pair(&self) -> Option<(String, &str)> {
        if self.quoted {
            return None;
        }
        let (key, value) = self.text.split_once('=')?;
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        valid.then(|| (key.to_ascii_lowercase(), value))
    }
}

/// The closing quote of an opening one: `"…"`, `“…”` or `「…」`.
pub(super) fn is_open_quote(c: char) -> Option<char> {
    match c {
        '"' => Some('"'),
        '\u{201C}' => Some('\u{201D}'),
        '「' => Some('」'),
        _ => None,
    }
}

/// Splits on white space; `"…"` (or “…”, 「…」) quotes a whole token or the
/// value of a `key="…"` pair. A quote left open is an error that quotes
/// where it starts, rather than a value silently running to the end.
fn tokenize(line: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    // Reads up to `close`; `Err` with the text from `start` when it never comes.
    let quoted = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
                  close: char,
                  start: usize,
                  text: &mut String|
     -> Result<(), ParseError> {
        for (_, c) in chars.by_ref() {
            if c == close {
                return Ok(());
            }
            text.push(c);
        }
        let from: String = line[start..].chars().take(30).collect();
        Err(ParseError::OpenQuote(format!("“{from}…”")))
    };
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(start, first)) = chars.peek() else {
            break;
        };
        let mut text = String::new();
        let mut is_quoted = false;
        if let Some(close) = is_open_quote(first) {
            chars.next();
            is_quoted = true;
            quoted(&mut chars, close, start, &mut text)?;
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                text.push(c);
                if c == '='
                    && let Some(&(at, q)) = chars.peek()
                    && let Some(close) = is_open_quote(q)
                {
                    chars.next();
                    quoted(&mut chars, close, at, &mut text)?;
                    break;
                }
            }
        }
        tokens.push(Token {
            text,
            quoted: is_quoted,
        });
    }
    Ok(tokens)
}
