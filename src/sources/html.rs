//! AniList's descriptions to plain text. Even with `asHtml: false` they
//! carry `<br>`, `<i>`, `<b>` and entities, and mark spoilers `~!…!~`; a card
//! shows neither markup nor spoilers.

/// Plain text: spoilers removed first (so markup inside them goes too),
/// then tags (`<br>` and paragraph ends become line breaks), then entities
/// (last, so `&lt;b&gt;` stays text), then blank runs folded to one.
pub(super) fn to_text(description: &str) -> String {
    let text = without_spoilers(description);
    let text = without_tags(&text);
    let text = decode_entities(&text);
    fold_blank_lines(&text)
}

/// Drops every `~!…!~`; an unclosed `~!` hides the rest, which is safer
/// than showing a spoiler whose end marker was lost.
fn without_spoilers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("~!") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find("!~") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn without_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // A '<' that opens no tag ("a < b") is text.
        let Some(close) = after.find('>').filter(|_| looks_like_tag(after)) else {
            out.push('<');
            rest = after;
            continue;
        };
        let name: String = after[..close]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &after[close + 1..];
        let breaks = match name.as_str() {
            "br" => true,
            "p" | "div" | "li" => after.starts_with('/'),
            _ => false,
        };
        if breaks {
            out.push('\n');
            // The source's own line break after the tag is the same break.
            rest = rest
                .strip_prefix("\r\n")
                .or_else(|| rest.strip_prefix('\n'))
                .unwrap_or(rest);
        }
    }
    out.push_str(rest);
    out
}

fn looks_like_tag(after_open: &str) -> bool {
    let after_open = after_open.strip_prefix('/').unwrap_or(after_open);
    after_open.starts_with(|c: char| c.is_ascii_alphabetic() || c == '!')
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| entity(&after[..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity (without `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| !c.is_control() || *c == '\n');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        _ => return None,
    })
}

/// Trims every line and keeps at most one blank line between paragraphs.
fn fold_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        out.push_str(line);
        blank = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_goes_and_line_breaks_stay() {
        let text = to_text(
            "Rouge Redstar, an android.<br><br>\nAt her side: Naomi &amp; <b>Jill</b>.<br>\n<i>(Source: test)</i>",
        );
        assert_eq!(
            text,
            "Rouge Redstar, an android.\n\nAt her side: Naomi & Jill.\n(Source: test)"
        );
    }

    #[test]
    fn spoilers_go_with_what_they_hide() {
        assert_eq!(
            to_text("Each is running. ~!One of them <b>runs back</b>.!~<br>End."),
            "Each is running.\nEnd."
        );
        assert_eq!(to_text("Safe. ~!never closed"), "Safe.");
    }

    #[test]
    fn entities_decode_once_and_stray_brackets_stay() {
        assert_eq!(
            to_text("&lt;b&gt; is 1 &#60; 2 &#x2014; ok"),
            "<b> is 1 < 2 — ok"
        );
        assert_eq!(to_text("a < b && c"), "a < b && c");
        assert_eq!(to_text("&bogus; &#xFFFFFFFF;"), "&bogus; &#xFFFFFFFF;");
    }
}
