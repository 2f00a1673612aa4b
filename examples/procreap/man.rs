//! The man page, generated from the same clap definitions as `--help`: one
//! page, procreap(1), with a section per command and its flags.

use clap::CommandFactory;
use clap_mangen::Man;

use crate::args::{Cli, EXIT_STATUS, JSON_HELP};

/// procreap(1) as roff.
pub fn render() -> std::io::Result<String> {
    let cmd = Cli::command();
    let mut page = Vec::new();
    let man = Man::new(cmd.clone()).date(env!("CARGO_PKG_VERSION"));
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    page.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("procreap {}", sub.get_name());
        let sub = sub.clone().bin_name(full.clone());
        let mut part = Vec::new();
        let m = Man::new(sub);
        m.render_synopsis_section(&mut part)?;
        m.render_description_section(&mut part)?;
        m.render_options_section(&mut part)?;
        // Each command's own sections become a subsection of COMMANDS:
        // its synopsis, its description, its groups of flags.
        let part = String::from_utf8_lossy(&part);
        for line in part.lines() {
            let out = match line.strip_prefix(".SH ") {
                Some("SYNOPSIS") => format!(".SS \"{full}\"\n"),
                Some("DESCRIPTION") => ".PP\n".to_string(),
                Some(h) => format!(".PP\n\\fB{}\\fR\n", h.trim_matches('"')),
                None => format!("{line}\n"),
            };
            page.extend_from_slice(out.as_bytes());
        }
    }
    text_section(&mut page, "EXIT STATUS", EXIT_STATUS);
    text_section(&mut page, "JSON OUTPUT", JSON_HELP);
    man.render_version_section(&mut page)?;
    Ok(String::from_utf8_lossy(&page).into_owned())
}

/// A section of preformatted text (its first line, a heading, dropped).
fn text_section(page: &mut Vec<u8>, title: &str, text: &str) {
    page.extend_from_slice(format!(".SH \"{title}\"\n.nf\n").as_bytes());
    for line in text.lines().skip_while(|l| l.ends_with(':')) {
        // roff: a leading . or ' is a request; backslashes escape.
        let line = line.replace('\\', "\\e");
        if line.starts_with('.') || line.starts_with('\'') {
            page.extend_from_slice(b"\\&");
        }
        page.extend_from_slice(line.as_bytes());
        page.push(b'\n');
    }
    page.extend_from_slice(b".fi\n");
}
