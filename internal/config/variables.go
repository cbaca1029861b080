package config

// Variable is one environment variable the authorizer reads. Variables is the
// one list of them: FromEnv reads these and no others (a test holds it to
// that), and the deployment templates under deploy/ are checked against it,
// so that a template cannot set a variable the binary ignores or leave out
// one it needs.
type Variable struct {
	Name string
	// Required: the function does not start without it.
	Required bool
	// Default is the value an unset variable stands for, as the README's
	// configuration table gives it; "" for none.
	Default string
}

// Variables are the authorizer's environment variables, in the README's order.
var Variables = []Variable{
	{Name: "AUTHZ_ISSUERS", Required: true},
	{Name: "AUTHZ_TOKEN_SOURCES", Default: "header:authorization"},
	{Name: "AUTHZ_BUNDLE"},
	{Name: "AUTHZ_BUNDLE_PUBLIC_KEY"},
	{Name: "AUTHZ_BUNDLE_POLL_INTERVAL", Default: "60s"},
	{Name: "AUTHZ_OPA_CONFIG"},
	{Name: "AUTHZ_JWKS_SNAPSHOT"},
	{Name: "AUTHZ_QUERY", Default: "data.authz.decision"},
	{Name: "AUTHZ_HTTP_SIMPLE_RESPONSES", Default: "true"},
	{Name: "AUTHZ_ALLOW_AMBIGUOUS_PATHS", Default: "false"},
	{Name: "AUTHZ_DECISION_LOG", Default: "true"},
	{Name: "AUTHZ_SHADOW_QUERY"},
	{Name: "AUTHZ_METRICS", Default: "emf"},
	{Name: "AUTHZ_METRICS_NAMESPACE", Default: "Authz"},
	{Name: "AUTHZ_LOG_LEVEL", Default: "info"},
	{Name: "AUTHZ_JWKS_COOLDOWN", Default: "15s"},
	{Name: "AUTHZ_IDP_TIMEOUT", Default: "3s"},
	{Name: "AUTHZ_TOKEN_CACHE", Default: "1024"},
}

// Lookup returns the variable called name, and whether the authorizer reads it.
func Lookup(name string) (Variable, bool) {
	for _, v := range Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}
