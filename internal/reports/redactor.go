package reports

// Redactor returns a function that removes the DSN and every password in it
// from a message, as the SQL source does with its own errors: for the other
// stores that open the same databases (the shared state).
func Redactor(driver, dsn string) func(string) string {
	secrets := dsnSecrets(driver, dsn)
	return func(msg string) string { return redact(msg, secrets) }
}
