/* nocache.c — an LD_PRELOAD shim for experiments: the server session cache
 * off, TLS 1.3 tickets kept.  Every SSL_CTX_set_session_cache_mode(ctx,
 * SSL_SESS_CACHE_SERVER...) becomes SSL_SESS_CACHE_OFF, so a program that
 * turns the cache on (edge443 does, in src/tls.c) runs without it, with no
 * change to its source.  Client contexts and other SSL_CTX_ctrl commands
 * pass through.  Used by bench/run.sh (COUNTS) as "edge443, cache off";
 * also usable as EDGE443_ENV="LD_PRELOAD=.../nocache.so".
 *
 * build: cc -O2 -shared -fPIC -o nocache.so nocache.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/ssl.h>

long SSL_CTX_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg)
{
	static long (*next)(SSL_CTX *, int, long, void *);
	if (next == NULL)
		next = (long (*)(SSL_CTX *, int, long, void *))dlsym(
			RTLD_NEXT, "SSL_CTX_ctrl");
	if (cmd == SSL_CTRL_SET_SESS_CACHE_MODE && (larg & SSL_SESS_CACHE_SERVER))
		larg = SSL_SESS_CACHE_OFF;
	return next(ctx, cmd, larg, parg);
}
