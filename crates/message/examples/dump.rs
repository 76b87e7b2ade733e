//! Prints what `Email::parse` makes of each file given on the command line.

fn main() {
    for path in std::env::args().skip(1) {
        match std::fs::read(&path) {
            Ok(raw) => {
                let mut email = inbound_message::Email::parse(raw);
                email.raw = bytes::Bytes::new();
                for a in &mut email.attachments {
                    println!("attachment {:?} {} bytes", a.filename, a.size());
                    if a.content.len() > 64 {
                        a.content = a.content.slice(..64);
                    }
                }
                println!("== {path}\n{email:#?}");
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
