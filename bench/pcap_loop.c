/*
 * pcap_loop FILE: the floor for reading a capture, a bare libpcap
 * pcap_next_ex loop that touches each packet (its length and first and
 * last byte); prints the packet count and a checksum of what it touched.
 * Exit 0, 1 if the file cannot be read.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, sum = 0;
	pcap_t *p;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap_loop FILE\n");
		return 1;
	}
	p = pcap_open_offline(argv[1], err);
	if (p == NULL) {
		fprintf(stderr, "pcap_loop: %s\n", err);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		n++;
		sum += h->caplen + (h->caplen ? d[0] + d[h->caplen - 1] : 0);
	}
	printf("%" PRIu64 " packets, sum %" PRIu64 "\n", n, sum);
	pcap_close(p);
	return rc == PCAP_ERROR ? 1 : 0;
}
