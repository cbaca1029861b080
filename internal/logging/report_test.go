package logging_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/apigw-authz/authz/internal/authorizer"
)

// TestUnauthorizedReportIsTheAuthorizers holds the report RouteStandardLog
// logs at info level to the authorizer's error: were ErrUnauthorized of
// another type, aws-lambda-go's report of each 401 would name that type, and
// every 401 would be logged at error level.
func TestUnauthorizedReportIsTheAuthorizers(t *testing.T) {
	want := errors.New("Unauthorized") //nolint:staticcheck // API Gateway matches this exact text
	got := authorizer.ErrUnauthorized
	if reflect.TypeOf(got) != reflect.TypeOf(want) || got.Error() != want.Error() {
		t.Fatalf("authorizer.ErrUnauthorized is a %T saying %q; internal/logging expects the report of a %T saying %q",
			got, got, want, want)
	}
}
