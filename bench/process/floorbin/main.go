// Command floorbin is the hand-written floor (bench/floor) as a Lambda
// function, for the cold-start and size comparison of bench/process. It is
// built as make package builds bootstrap and configured by its environment:
//
//	FLOOR_ISSUER    the issuer URL, the iss of accepted tokens
//	FLOOR_AUDIENCE  the accepted aud
//	FLOOR_JWKS      the issuer's JSON Web Key Set, as JSON (static keys)
//	FLOOR_DATA      the policy's data document ({"rbac": ...}), as JSON
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/apigw-authz/authz/bench/floor"
)

// The floor answers the Lambda runtime directly, bytes in and out, as the
// project's authorizer does.
var _ lambda.Handler = (*floor.Authorizer)(nil)

func main() {
	a, err := setup(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorbin:", err)
		os.Exit(1)
	}
	lambda.Start(a)
}

func setup(getenv func(string) string) (*floor.Authorizer, error) {
	issuer, audience := getenv("FLOOR_ISSUER"), getenv("FLOOR_AUDIENCE")
	if issuer == "" || audience == "" {
		return nil, errors.New("FLOOR_ISSUER and FLOOR_AUDIENCE are required")
	}
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(getenv("FLOOR_JWKS")), &keys); err != nil {
		return nil, fmt.Errorf("FLOOR_JWKS: %v", err)
	}
	if len(keys.Keys) == 0 {
		return nil, errors.New("FLOOR_JWKS: no key")
	}
	data, err := floor.ParseData([]byte(getenv("FLOOR_DATA")))
	if err != nil {
		return nil, fmt.Errorf("FLOOR_DATA: %v", err)
	}
	return floor.New(issuer, audience, &keys, data), nil
}
