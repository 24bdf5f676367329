// Readiness probe used by scripts/kafka.sh (run in Java source-file mode with
// the broker's libs on the classpath). Exits 0 once the broker answers a
// DescribeCluster and a Metadata (listTopics) request, reports at least one
// live (unfenced) broker and the group coordinator is available (which also
// creates __consumer_offsets up front); exits 1 when the timeout expires.
//
// usage: java -cp 'libs/*' KafkaReady.java <bootstrap> <timeoutSeconds> [client.properties]
// (the optional properties file holds the client's security settings: SASL_SSL brokers)

import java.util.Collection;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.common.Node;

public class KafkaReady {
    public static void main(String[] args) throws Exception {
        if (args.length != 2 && args.length != 3) {
            System.err.println("usage: KafkaReady <bootstrap> <timeoutSeconds> [client.properties]");
            System.exit(2);
        }
        String bootstrap = args[0];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[1]));

        Properties p = new Properties();
        if (args.length == 3) {
            try (java.io.Reader r = java.nio.file.Files.newBufferedReader(java.nio.file.Path.of(args[2]))) {
                p.load(r);
            }
        }
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "auditstream-kafka-ready");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "200");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "200");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");

        Throwable last = null;
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                try {
                    DescribeClusterResult dc = admin.describeCluster();
                    Collection<Node> nodes = dc.nodes().get(5, TimeUnit.SECONDS);
                    String clusterId = dc.clusterId().get(5, TimeUnit.SECONDS);
                    Set<String> topics = admin.listTopics(new ListTopicsOptions().listInternal(true))
                            .names().get(5, TimeUnit.SECONDS);
                    if (nodes.isEmpty()) {
                        last = new IllegalStateException("no live brokers in metadata yet");
                    } else {
                        // Warm up the group coordinator: FindCoordinator makes the broker create
                        // __consumer_offsets now. Otherwise the first consumer group join in a test
                        // hits COORDINATOR_NOT_AVAILABLE and kafka-go waits JoinGroupBackoff (5 s).
                        admin.listConsumerGroupOffsets("auditstream-kafka-ready")
                                .partitionsToOffsetAndMetadata().get(5, TimeUnit.SECONDS);
                        System.out.println("kafka ready: cluster.id=" + clusterId + " brokers=" + nodes
                                + " topics=" + topics.size() + " group coordinator ok");
                        return;
                    }
                } catch (Exception e) {
                    last = e.getCause() != null ? e.getCause() : e;
                }
                Thread.sleep(300);
            }
        }
        System.err.println("kafka not ready: " + last);
        System.exit(1);
    }
}
