package metrics

// Counts of the whole process, kept by the packages that see the events and
// taken by the decision log, which writes each count once, in the next line
// it writes: CloudWatch adds them up.
var (
	// JWKSFetches counts the fetches of identity providers' key sets.
	JWKSFetches Counter
	// BundleActivations counts the policy bundles put in force.
	BundleActivations Counter
	// BundleFailures counts the bundles that could not be downloaded,
	// verified or compiled, and the checks that failed.
	BundleFailures Counter
)
