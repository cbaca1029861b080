// Package deploy holds no code: its tests check the deployment templates
// beside it (terraform/ and sam/) against the binary they deploy. They parse
// the HCL and YAML, evaluate what they can with the examples' values, and hold
// the environment to internal/config's table, the handler and zip to what
// make package builds, the metrics to what the decision log carries, the IAM
// to the bundle object and logs, and the authorizer settings to the token
// sources. Nothing here calls AWS.
package deploy
