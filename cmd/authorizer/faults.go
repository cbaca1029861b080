//go:build authz_faults

// This file is compiled only with -tags authz_faults, into the binary the
// end-to-end tests build to inject faults the real one cannot be made to
// show (test/runtime_faults_test.go); make package and make build never set
// the tag, and the tests check that the binary built with make package's
// flags does not know these builtins.

package main

import (
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
)

func init() {
	// authz_faults.panic(x) makes the evaluation panic in the handler's
	// goroutine, as a bug in the authorizer or in OPA would.
	rego.RegisterBuiltin1(&rego.Function{
		Name: "authz_faults.panic",
		Decl: types.NewFunction(types.Args(types.A), types.B),
	}, func(_ rego.BuiltinContext, x *ast.Term) (*ast.Term, error) {
		panic("authz_faults.panic(" + x.String() + ")")
	})
	// authz_faults.sleep(ms) is true after ms milliseconds, or an error when
	// the evaluation's context ends first: a decision that is still being
	// made when something else happens.
	rego.RegisterBuiltin1(&rego.Function{
		Name: "authz_faults.sleep",
		Decl: types.NewFunction(types.Args(types.N), types.B),
	}, func(bctx rego.BuiltinContext, ms *ast.Term) (*ast.Term, error) {
		n, ok := ms.Value.(ast.Number).Int64()
		if !ok {
			return nil, fmt.Errorf("authz_faults.sleep: %v is not a whole number of milliseconds", ms)
		}
		select {
		case <-time.After(time.Duration(n) * time.Millisecond):
			return ast.BooleanTerm(true), nil
		case <-bctx.Context.Done():
			return nil, bctx.Context.Err()
		}
	})
}
