//! Members: registering, enrollment codes, devices (filled in with the members pages).
