/*
 * A real OpenSearch node started from its Maven Central jars (scripts/build_opensearch.sh): the server's own
 * Node class with the Netty4 transport (HTTP and node-to-node) and the common analysis plugin on the
 * classpath, instead of a distribution's plugin folders. Settings come as -Ekey=value arguments, like the
 * opensearch launcher's, e.g.
 *
 *   java -Xms256m -Xmx256m -cp 'lib/*:classes' ParamedicNode -Ecluster.name=c -Enode.name=n1 \
 *       -Epath.home=/tmp/n1 -Ehttp.port=9200 -Etransport.port=9300 \
 *       -Ediscovery.seed_hosts=127.0.0.1:9300,127.0.0.1:9301 -Ecluster.initial_cluster_manager_nodes=n1,n2
 *
 * No security manager and no bootstrap checks (the opensearch launcher's production guards): a test and
 * demo engine on loopback. It prints "PARAMEDIC-NODE-STARTED" once the node has started and stops cleanly on
 * SIGTERM.
 */

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.transport.Netty4Plugin;

public final class ParamedicNode extends Node {

    private ParamedicNode(Environment environment) {
        super(environment, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class), true);
    }

    static Settings parse(String[] args) {
        Settings.Builder builder = Settings.builder()
            .put("network.host", "127.0.0.1")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("node.processors", 1);
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (!arg.startsWith("-E") || eq < 3) {
                throw new IllegalArgumentException("expected -Ekey=value, got " + arg);
            }
            builder.put(arg.substring(2, eq), arg.substring(eq + 1));
        }
        Settings settings = builder.build();
        if (settings.get("path.home") == null) {
            throw new IllegalArgumentException("-Epath.home=<dir> is required");
        }
        return settings;
    }

    public static void main(String[] args) throws Exception {
        Settings settings = parse(args);
        LogConfigurator.configureWithoutConfig(settings);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), Path.of(settings.get("path.home"), "config"), () -> settings.get("node.name"));
        Node node = new ParamedicNode(environment);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "paramedic-node-shutdown"));
        node.start();
        System.out.println("PARAMEDIC-NODE-STARTED " + settings.get("node.name"));
        System.out.flush();
        stopped.await();
    }
}
