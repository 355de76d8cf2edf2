// Package state is the memory between runs: per Cachet component, this
// tool's last decisions (with their times), the status it last wrote to or
// saw in Cachet, and a hand-set status being held; and the time of the last
// proof that the Cachet token works. The rules that use it live elsewhere;
// this package only keeps it, behind the small [Store] interface.
//
// Statuses are [status.Status] values, so the rules need no conversion.
//
// # The file
//
// [File] keeps the state of one config in one JSON file, indented for people:
//
//	{
//	  "version": 1,
//	  "config": "/etc/cachet-updater/config.yaml",
//	  "saved_at": "2026-11-25T06:35:02Z",
//	  "token_proved_at": "2026-11-25T06:35:01Z",
//	  "components": {
//	    "14": {
//	      "server": "Stream 1",
//	      "history": [
//	        {
//	          "at": "2026-11-25T06:32:01Z",
//	          "status": 1
//	        },
//	        {
//	          "at": "2026-11-25T06:35:01Z",
//	          "status": 4
//	        }
//	      ],
//	      "last": 1,
//	      "last_at": "2026-11-25T06:32:01Z"
//	    },
//	    "15": {
//	      "server": "Stream 2",
//	      "hold": {
//	        "since": "2026-11-25T05:35:02Z",
//	        "status": 3
//	      }
//	    }
//	  }
//	}
//
// Statuses are Cachet's numbers (1 operational … 4 major outage; "last": 0
// or absent means not known). Fields this build does not know are ignored.
//
// "version" is the format version: a file with a newer one than this build
// knows is refused (errors.Is [ErrNewerVersion]) and left alone; upgrade.
// "config" is the config that wrote the file: a File for another config
// refuses it (errors.Is [ErrOtherConfig]) and leaves it alone, since two
// configs sharing one file would prune each other's entries. "saved_at" is
// for people.
//
// Unless state.path says otherwise the file is [DefaultPath]: for root
// /var/lib/cachet-updater/, for other users $XDG_STATE_HOME/cachet-updater/
// or ~/.local/state/cachet-updater/, named after the config
// (config-1a2b3c4d.json for /etc/cachet-updater/config.yaml).
//
// To reset the memory, delete the file: the next run is a first run.
//
// # A corrupt file
//
// A file that is not a state file (bad or truncated JSON, a wrong shape, a
// status out of range, empty, over [MaxFileSize]) is moved aside to
// <path>.corrupt-<UTC time, 20261125T063502Z> and Load returns an empty
// state with a [*CorruptError] naming the new name: the run goes on without
// history and should exit 1 so someone looks; a store for a dry run
// ([File.ReadOnly]) leaves it where and as it is. Nothing is guessed from a
// part of the file. Something that is not a regular file (a directory, a FIFO) or
// that cannot be read is refused and left in place, with a nil state.
//
// # Writing
//
// Save is atomic (a temporary file in the same directory, synced, renamed
// over the path, the directory synced): a crash or a full disk leaves the
// previous file whole. The file is 0600, its directory is created 0700.
// Load and Save return ctx's error when ctx ends first, even if the file
// system hangs, and a Save that returned it never renames its file into
// place later; a rename already begun when ctx ends is waited for a little
// longer, and if it still hangs the error says the new state may land
// ([bounded.ErrInDoubt]).
//
// The store does not lock: the caller holds the run lock from Load to Save,
// so two runs of one config never interleave.
//
// # The database
//
// [SQL] keeps the same state in a MySQL/MariaDB, PostgreSQL or SQLite
// database that several probers (vantages) share, with each vantage's
// latest observations beside it and a database-level decision lock
// ([SQL.Lock]) in place of the run lock. Its tables, migrations and locks are
// described there.
package state
