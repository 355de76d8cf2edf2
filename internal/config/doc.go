// Package config turns the cachet-updater YAML file into typed, validated
// structs with every default applied.
//
// Load reads one file (at most MaxFileSize bytes of UTF-8 YAML) and Parse
// validates it. Both return either a complete *Config or every problem
// found: an *Error when there is one, Errors (in file order, errors.As
// finds the first *Error) when there are more. Each carries the file, the
// line and the dotted key, for example
//
//	configs/fleet.yaml:12: servers[3].url: must be an absolute http or https URL such as https://s1.example.org/
//
// Keys are dotted paths from the top of the file; list entries are indexed
// from 0 in file order, so servers[0] is the first server. Unknown keys are
// errors, so a typo is never silently ignored; a typo of a required key is
// reported once, as the typo.
//
// How it reads a file: the YAML keys are the yaml tags of the structs in
// config.go, and their check tags hold the rules for single values. A
// checker walks the YAML tree beside those types and reports what is wrong
// with each key; yaml.v3 decodes the tree on top of the defaults; a last
// step checks what spans fields (thresholds, unique names and ids, the
// source type's keys, secrets). A new key is one field with its tags, its
// default, and its line in configs/example.yaml.
//
// Durations are Go durations (90s, 1m30s, 2h) or start with days (14d,
// 1d12h); a bare number other than 0 is an error. Whole numbers, ids above
// all, are decimal digits: YAML reads 014 as octal 12, so 014, 0x10, 1e3,
// 12.0 and "12" are errors that say what to write.
//
// Secrets: the Cachet token comes from an environment variable
// (cachet.token_env) or a file (cachet.token_file), and so does a MySQL or
// PostgreSQL DSN; an inline token or such a DSN is refused. Config.Token and
// Source.ResolveDSN read them when the caller needs them. Their errors never
// contain the secret, and print the name of the variable or file only when
// it looks like one, since a token pasted in its place would be echoed. A
// server URL may carry user:password@ for basic auth: Server.URL keeps it for
// the prober, Server.DisplayURL hides the password, and no error or warning
// holds it. Config.Warnings names files holding secrets that other users can
// read, secrets sent over plain http, and timeouts that cannot fit in
// run_timeout.
//
// Every probe key under probe: is the default for all servers; a server may
// override any of them except concurrency, which is global. A server's status
// mapping replaces the default mapping as a whole (it is not merged key by
// key), so what is written next to the server is the complete mapping.
//
// Config.Path is the absolute path of the file with symlinks resolved, so
// the same file reached through a symlink has the same Path. Relative paths
// in the file (token_file, reports.source.path, dsn_file, an inline sqlite
// dsn and lock_file) resolve against the folder of the path as given. When
// lock_file is not set, Config.LockFile is "" and the caller derives the lock
// from Config.Path.
//
// LoadOptions{AllowNoServers: true} (LoadCachetOnly) accepts a file without
// servers, for commands that only talk to Cachet.
package config
