/* bulkget.c — the benchmark's bulk download (and upload) client.
 *
 *   bulkget [-u] IP PORT COUNT [BYTES]
 *
 * COUNT times, one after the other: a fresh TCP connection and TLS session
 * (no verification, no session cache), "GET /bulk/BYTES" (default 64 MiB),
 * read the whole response until the server closes, check its length.  With
 * -u, "POST /sink" with a body of BYTES sent in 64 KiB writes instead, and
 * the answer must be a 200.
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
	int up = argc > 1 && strcmp(argv[1], "-u") == 0;

	if (up) {
		argv++;
		argc--;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: %s [-u] IP PORT COUNT [BYTES]\n",
			argv[0]);
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
	int reqlen = snprintf(
		req, sizeof(req),
		up ? "POST /sink HTTP/1.1\r\nHost: test.example\r\n"
		     "Content-Length: %llu\r\nConnection: close\r\n\r\n"
		   : "GET /bulk/%llu HTTP/1.1\r\nHost: test.example\r\n"
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
		unsigned long long got = 0, sent = 0;
		size_t hdr = 0;
		int r;
		if (up) {
			memset(buf, 'u', sizeof(buf));
			while (sent < want) {
				unsigned long long n = want - sent;
				int k = n < sizeof(buf) ? (int)n
							: (int)sizeof(buf);
				if (SSL_write(ssl, buf, k) != k) {
					ERR_print_errors_fp(stderr);
					return 1;
				}
				sent += (unsigned long long)k;
			}
			r = SSL_read(ssl, buf, sizeof(buf) - 1);
			buf[r > 0 ? r : 0] = '\0';
			if (strncmp(buf, "HTTP/1.1 200 ", 13) == 0)
				ok++;
			else
				fprintf(stderr, "upload %d: no 200: %.40s\n", i,
					buf);
			total += sent;
			ERR_clear_error();
			SSL_free(ssl);
			close(fd);
			continue;
		}
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
