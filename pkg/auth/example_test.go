package auth_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
	"github.com/xh-control/gateway/pkg/auth"
)

func Example() {
	v, err := auth.NewVerifier(auth.Config{HMACSecret: "secret-of-the-application-backend"}, nil)
	if err != nil {
		panic(err)
	}
	defer v.Close()

	// What the application backend issues (here with golang-jwt).
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "42", "expire_at": 0, "info": map[string]string{"name": "Alice"}, "channels": []string{"news"},
	}).SignedString([]byte("secret-of-the-application-backend"))

	ct, err := v.VerifyConnectToken(context.Background(), token)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		fmt.Println("reply error 109")
	case err != nil:
		fmt.Println("close 3500")
	default:
		fmt.Println(ct.UserID, ct.ExpireAt, string(ct.Info), ct.Channels)
	}
	// Output: 42 0 {"name":"Alice"} [news]
}
