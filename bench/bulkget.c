/* bulkget.c — the benchmark's bulk download client.
 *
 *   bulkget IP PORT COUNT [BYTES]
 *
 * COUNT times, one after the other: a fresh TCP connection and TLS session
 * (no verification, no session cache), "GET /bulk/BYTES" (default 64 MiB),
 * read the whole response until the server closes, check its length.
 * Prints "ok=N bytes=TOTAL_BODY_BYTES secs=WALL proto=.. cipher=..".
 * Exit 1 if any transfer came up short.
 *
 * build: cc -O2 -o bulkget bulkget.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int no_chain_check(X509_STORE_CTX *x, void *arg)
{
	(void)x;
	(void)arg;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s IP PORT COUNT [BYTES]\n", argv[0]);
		return 2;
	}
	int count = atoi(argv[3]);
	unsigned long long want =
		argc > 4 ? strtoull(argv[4], NULL, 10) : 64ULL << 20;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port =
					 htons((unsigned short)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_cert_verify_callback(ctx, no_chain_check, NULL);

	static char buf[1 << 16];
	char req[256], proto[32] = "?", cipher[64] = "?";
	int reqlen =
		snprintf(req, sizeof(req),
			 "GET /bulk/%llu HTTP/1.1\r\nHost: test.example\r\n"
			 "Connection: close\r\n\r\n",
			 want);
	unsigned long long total = 0;
	int ok = 0;
	double t0 = now();
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			perror("connect");
			return 1;
		}
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		SSL_set_tlsext_host_name(ssl, "test.example");
		if (SSL_connect(ssl) != 1 ||
		    SSL_write(ssl, req, reqlen) != reqlen) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
		snprintf(proto, sizeof(proto), "%s", SSL_get_version(ssl));
		snprintf(cipher, sizeof(cipher), "%s",
			 SSL_get_cipher_name(ssl));
		unsigned long long got = 0;
		size_t hdr = 0;
		int r;
		while ((r = SSL_read(ssl, buf, sizeof(buf))) > 0) {
			if (got == 0) {
				char *e = memmem(buf, (size_t)r, "\r\n\r\n", 4);
				hdr = e ? (size_t)(e - buf) + 4 : 0;
			}
			got += (unsigned long long)r;
		}
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
		if (got - hdr == want)
			ok++;
		else
			fprintf(stderr,
				"transfer %d: %llu of %llu body bytes\n", i,
				got - hdr, want);
		total += got - hdr;
	}
	printf("ok=%d bytes=%llu secs=%.3f proto=%s cipher=%s\n", ok, total,
	       now() - t0, proto, cipher);
	return ok == count ? 0 : 1;
}
