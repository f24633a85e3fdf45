/* backend.c — the benchmark's plain-HTTP backend: one thread, epoll, tiny.
 *
 *   backend IP PORT COUNTER_FILE
 *
 * Answers every request (HTTP/1.1 keep-alive, pipelining tolerated) with a
 * 100-byte body, except "GET /bulk" which streams 64 MiB (or /bulk/BYTES)
 * and then closes, and "POST /sink" whose Content-Length body it reads and
 * drops, then answers with an empty 200 and closes.  "Connection: close" in
 * a request closes the connection after the response.  Every request served
 * increments a uint64 counter in COUNTER_FILE (mmap'd), which bench/run.sh
 * reads to count requests inside its measurement window.  Not a test, not an
 * HTTP server: only what the benchmark sends is understood.
 *
 * build: cc -O2 -o backend backend.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define SMALL_BODY 100
#define BULK_DEFAULT (64ULL << 20)
#define INBUF 8192
#define CHUNK (256 * 1024)

struct conn {
	int fd;
	size_t inlen;
	char in[INBUF];
	char out[512]; /* pending small response / bulk header */
	size_t outlen, outoff;
	unsigned long long bulk_left; /* bulk body bytes still to send */
	unsigned long long sink_left; /* upload body bytes still to drop */
	int close_after;
	int want_out;
};

static volatile uint64_t *served;
static char chunk[CHUNK], sinkbuf[CHUNK];
static int epfd;

static void conn_free(struct conn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void set_events(struct conn *c, int out)
{
	if (out == c->want_out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
				 .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = out;
}

/* Write what is pending; 1 = all done, 0 = would block, -1 = error. */
static int flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n =
			write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->outoff += (size_t)n;
	}
	c->outlen = c->outoff = 0;
	while (c->bulk_left > 0) {
		size_t len =
			c->bulk_left < CHUNK ? (size_t)c->bulk_left : CHUNK;
		ssize_t n = write(c->fd, chunk, len);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->bulk_left -= (unsigned long long)n;
	}
	return 1;
}

/* The empty answer to an upload, once its body is all read. */
static void sink_done(struct conn *c)
{
	c->outlen = (size_t)snprintf(c->out, sizeof(c->out),
				     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
				     "Connection: close\r\n\r\n");
	c->outoff = 0;
	c->close_after = 1;
}

/* Parse as many complete requests as are buffered and queue responses.
 * Stops at the first request whose response could not be written fully. */
static int handle(struct conn *c)
{
	for (;;) {
		int r = flush(c);
		if (r <= 0)
			return r;
		if (c->sink_left > 0)
			return 1; /* an upload's body is still coming */
		if (c->close_after)
			return -1; /* response done: close */
		char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (end == NULL)
			return c->inlen >= INBUF ? -1 : 1;
		size_t reqlen = (size_t)(end - c->in) + 4;
		char save = *end;
		*end = '\0';
		unsigned long long body = SMALL_BODY;
		if (strncmp(c->in, "POST /sink", 10) == 0) {
			const char *cl = strcasestr(c->in, "\ncontent-length:");
			unsigned long long n =
				cl ? strtoull(cl + 16, NULL, 10) : 0;
			size_t have = c->inlen - reqlen;
			*end = save;
			if (have > n)
				have = (size_t)n;
			memmove(c->in, c->in + reqlen + have,
				c->inlen - reqlen - have);
			c->inlen -= reqlen + have;
			c->sink_left = n - have;
			(*served)++;
			if (c->sink_left == 0)
				sink_done(c);
			continue;
		}
		if (strncmp(c->in, "GET /bulk", 9) == 0) {
			body = BULK_DEFAULT;
			if (c->in[9] == '/')
				body = strtoull(c->in + 10, NULL, 10);
			c->close_after = 1;
		}
		if (strcasestr(c->in, "\nconnection: close"))
			c->close_after = 1;
		*end = save;
		c->outlen = (size_t)snprintf(
			c->out, sizeof(c->out),
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			"Content-Length: %llu\r\n%s\r\n",
			body, c->close_after ? "Connection: close\r\n" : "");
		c->outoff = 0;
		if (body == SMALL_BODY) {
			memset(c->out + c->outlen, 'x', SMALL_BODY);
			c->outlen += SMALL_BODY;
		} else {
			c->bulk_left = body;
		}
		memmove(c->in, c->in + reqlen, c->inlen - reqlen);
		c->inlen -= reqlen;
		(*served)++;
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s IP PORT COUNTER_FILE\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(chunk, 'y', sizeof(chunk));

	int cfd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (cfd < 0 || ftruncate(cfd, 8) != 0) {
		perror(argv[3]);
		return 1;
	}
	served = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
	if (served == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "bad IP %s\n", argv[1]);
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 4096) != 0) {
		perror("bind/listen");
		return 1;
	}
	epfd = epoll_create1(0);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);

	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					struct epoll_event ev = {
						.events = EPOLLIN,
						.data.ptr = c};
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			int dead = 0;
			if ((evs[i].events & EPOLLIN) && c->sink_left > 0) {
				size_t want = c->sink_left < CHUNK
						      ? (size_t)c->sink_left
						      : CHUNK;
				ssize_t r = read(c->fd, sinkbuf, want);
				if (r == 0 || (r < 0 && errno != EAGAIN))
					dead = 1;
				else if (r > 0 &&
					 (c->sink_left -= (size_t)r) == 0)
					sink_done(c);
			} else if (evs[i].events & EPOLLIN) {
				ssize_t r = read(c->fd, c->in + c->inlen,
						 INBUF - c->inlen);
				if (r == 0 || (r < 0 && errno != EAGAIN))
					dead = 1;
				else if (r > 0)
					c->inlen += (size_t)r;
			} else if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
				dead = 1;
			}
			if (!dead) {
				int r = handle(c);
				if (r < 0)
					dead = 1;
				else
					set_events(c, r == 0);
			}
			if (dead)
				conn_free(c);
		}
	}
}
