// Package config turns the cachet-updater YAML file into typed, validated
// structs with every default applied.
//
// Load reads one file (at most MaxFileSize bytes of UTF-8 YAML) and Parse
// validates it. Both return either a complete *Config or the first problem
// as a *Error that carries the file, the line and the dotted key, for
// example
//
//	configs/fleet.yaml:12: servers[3].url: must be an absolute http or https URL such as https://s1.example.org/
//
// Keys are dotted paths from the top of the file; list entries are indexed
// from 0 in file order, so servers[0] is the first server. Unknown keys are
// errors, so a typo is never silently ignored.
//
// Secrets never live in the file: the Cachet token comes from an environment
// variable (cachet.token_env) or a file (cachet.token_file), and so does a
// MySQL or PostgreSQL DSN. Config.Token and Source.ResolveDSN read them when
// the caller needs them; their errors name where the secret was looked for
// but never contain it.
//
// Every probe key under probe: is the default for all servers; a server may
// override any of them except concurrency, which is global. A server's status
// mapping replaces the default mapping as a whole (it is not merged key by
// key), so what is written next to the server is the complete mapping.
//
// Relative paths (token_file, reports.source.path, dsn_file, an inline
// sqlite dsn and lock_file) are resolved against the config file's folder.
// The default lock file is
//
//	filepath.Join(os.TempDir(), "cachet-updater-<name>-<hash>.lock")
//
// where <name> is the config file's base name without its extension and
// <hash> the first 8 hex digits of the SHA-256 of the config's absolute path.
package config
