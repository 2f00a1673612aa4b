//! procreap: find and safely reap AI-agent processes that outlived their sessions.
