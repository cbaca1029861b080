# METADATA
# title: Decision-log masking
# description: |
#   The authorizer logs each decision through OPA's decision-log plugin,
#   which asks data.system.log.mask what to take out of the event before it
#   is written, and data.system.log.drop whether to write it at all (OPA's
#   documentation: Decision Logs, "Masking Sensitive Data" and "Drop Decision
#   Logs"). This package's input is that event, not the authorizer's input
#   document: the request is input.input.request, the decision input.result.
#   That is why it carries no input schema annotation.
#
#   The verified token never reaches the log: the authorizer has already
#   replaced it with "[token]" wherever it occurred. This policy erases the
#   other credentials a request may carry: every cookie, and each header and
#   query parameter whose name is a credential's (sensitive_names, or a name
#   containing one of sensitive_name_parts, in lower case).
#
#   To mask more names, add them here or, so that an upgrade of this file
#   keeps them, in a file of your own in the same package:
#
#     package system.log
#
#     sensitive_names contains "x-partner-key"
#
#     sensitive_name_parts contains "passphrase"
package system.log

# METADATA
# description: |
#   Header and query parameter names that carry a credential, in lower case,
#   besides those that contain one of sensitive_name_parts (x-api-key,
#   x-amz-security-token, x-csrf-token, access_token, id_token, api_key,
#   X-Amz-Signature, X-Amz-Credential, ...).
sensitive_names contains name if {
	some name in {
		"authorization",
		"proxy-authorization",
		"cookie",
		"sig",
	}
}

# METADATA
# description: |
#   Parts of names, in lower case: a header or query parameter whose name
#   contains one is a credential.
sensitive_name_parts contains part if {
	some part in {
		"token",
		"secret",
		"password",
		"passwd",
		"api-key",
		"api_key",
		"apikey",
		"session",
		"credential",
		"signature",
		"csrf",
		"xsrf",
		"jwt",
		"assertion",
	}
}

sensitive(name) if {
	is_string(name)
	lower(name) in sensitive_names
}

sensitive(name) if {
	is_string(name)
	count(sensitive_name_parts) > 0
	sensitive_parts_compile
	regex.match(sensitive_parts_pattern, lower(name))
}

# A list of parts too long or nested for one expression is tested part by
# part: a regex.match that fails is undefined here, not an error, and would
# leave every header unmasked.
sensitive(name) if {
	is_string(name)
	not sensitive_parts_compile
	some part in sensitive_name_parts
	contains(lower(name), lower(part))
}

# Every name part in one regular expression, built once per event and
# compiled once per process (OPA caches it): a header costs one match, not
# one test per part. The parts are quoted, so a part is matched as written,
# and lower-cased, as the names they are compared with.
sensitive_parts_pattern := concat("|", [quoted |
	some part in sensitive_name_parts
	quoted := regex.replace(lower(part), `[\\.+*?()|\[\]{}^$]`, `\$0`)
])

sensitive_parts_compile if regex.is_valid(sensitive_parts_pattern)

# The request's maps of named values that may hold a credential.
named_fields := {"headers", "query"}

# METADATA
# description: The sensitive names of the request, as [field, name].
sensitive_entries contains [field, name] if {
	some field in named_fields
	some name, _ in input.input.request[field]
	sensitive(name)
}

# METADATA
# description: |
#   Whether OPA can name the entry in a mask path. OPA splits a path at every
#   "/" and matches each part literally once percent-escaped as a URL path
#   segment: it does not decode RFC 6901's ~0 and ~1, a "/" in a name cannot
#   be written, and a part that is not a valid escape ("%zz") makes OPA drop
#   the whole event instead of masking it. So a name is written into a path
#   only when it holds nothing that escaping would change.
addressable(name) if regex.match(`^[A-Za-z0-9._~$&+=:@-]+$`, name)

# METADATA
# description: The maps holding a sensitive name that no mask path can name.
unaddressable_fields contains field if {
	some [field, name] in sensitive_entries
	not addressable(name)
}

# METADATA
# description: |
#   What OPA takes out of the event before it is logged: JSON pointers into
#   the event, erased, or {"op": "upsert", "path": ..., "value": ...} to
#   replace a value. The event records them in "erased" and "masked".
mask contains "/input/request/cookies"

mask contains sprintf("/input/request/%s/%s", [field, name]) if {
	some [field, name] in sensitive_entries
	not field in unaddressable_fields
}

# A map with a name no path can reach is replaced whole, by a copy whose
# sensitive values read "[masked]".
mask contains {"op": "upsert", "path": sprintf("/input/request/%s", [field]), "value": masked} if {
	some field in unaddressable_fields
	masked := {name: masked_value(name, value) | some name, value in input.input.request[field]}
}

masked_value(name, _) := "[masked]" if sensitive(name)

masked_value(name, value) := value if not sensitive(name)
