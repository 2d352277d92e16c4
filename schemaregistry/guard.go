package schemaregistry

import (
	"fmt"
	"net"
	"net/http"

	"github.com/cdcd-dev/cdcd/internal/httpguard"
)

// Error codes of the guard: plain HTTP statuses, as Confluent answers them.
const (
	codeUnauthorized         = 401
	codeForbidden            = 403
	codeUnsupportedMediaType = 415
)

// RequestContentTypes are the media types a request body may declare: those Confluent's
// registry accepts (its clients, Java, Python, Go and srclient, all send the first), and
// application/octet-stream, which Confluent takes as JSON too. Each of them makes a browser ask
// before sending it cross-origin (a CORS preflight, which the registry never grants); the types
// a browser sends without asking (text/plain, forms) and a body without a type are refused.
var RequestContentTypes = []string{
	ContentType,
	"application/vnd.schemaregistry+json",
	"application/json",
	"application/octet-stream",
}

// guard wraps the API with the defences the REST API has too (internal/httpguard): without a
// token, the Host header must name loopback (DNS rebinding); with one, every request must carry
// it; cross-origin browser requests are refused; and a request with a body must declare it
// JSON. Without these, any web page the user opens could disable compatibility or delete
// subjects of a registry listening on loopback.
func (r *Registry) guard(next http.Handler) http.Handler {
	token := httpguard.NewToken(r.cfg.token)
	csrf := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !token.IsSet() && !httpguard.LoopbackRequest(req) {
			writeError(w, &apiError{code: codeForbidden, message: "the Host header must name the loopback " +
				"interface (localhost, 127.0.0.1, [::1]) when the registry has no token"})
			return
		}
		if token.IsSet() && !token.BearerOrBasic(req) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cdcd schema registry"`)
			writeError(w, &apiError{code: codeUnauthorized, message: "missing or invalid token: send " +
				"Authorization: Bearer <token>, or the token as the basic authentication password"})
			return
		}
		if err := csrf.Check(req); err != nil {
			writeError(w, &apiError{code: codeForbidden, message: "cross-origin browser requests are refused"})
			return
		}
		if req.Method == http.MethodPost || req.Method == http.MethodPut {
			if err := httpguard.CheckContentType(req, RequestContentTypes...); err != nil {
				writeError(w, &apiError{code: codeUnsupportedMediaType, message: err.Error()})
				return
			}
		}
		next.ServeHTTP(w, req)
	})
}

// Listen listens on addr for the registry's Handler. It refuses an address that is not
// loopback when the registry has no token (WithToken): a registry reachable from the network
// without a credential would let anyone change or delete the schemas every consumer needs.
func (r *Registry) Listen(addr string) (net.Listener, error) {
	if err := httpguard.CheckListen(addr, r.cfg.token != ""); err != nil {
		return nil, fmt.Errorf("%w: %w (set a token)", ErrInvalidOption, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded registry: %w", err)
	}
	return ln, nil
}
