/*
 * One OpenSearch node for citysoc, run in the foreground of its own JVM.
 *
 *   java -Dcitysoc.engine.home=ENGINE_HOME -cp 'ENGINE_HOME/lib/*' CitysocNode CONFIG_DIR
 *
 * CONFIG_DIR holds opensearch.yml (cluster, node, paths, network) and log4j2.properties.
 * The modules a packaged OpenSearch loads from its modules/ folder are given here as
 * classpath plugins instead: HTTP and transport (Netty 4), common analysis, Painless,
 * reindex, the common ingest processors and the extra mapper types. Nothing is downloaded
 * and no plugin is installed at run time. SIGTERM (or SIGINT) closes the node cleanly:
 * shards are flushed, the data path's lock is released, the log is flushed, and the JVM
 * exits with 143 (128 + SIGTERM), which the systemd unit counts as success.
 */

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.ingest.common.IngestCommonPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class CitysocNode extends Node {

    /** The modules this engine is assembled with, in place of a distribution's modules/ folder. */
    static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,
        CommonAnalysisPlugin.class,
        PainlessPlugin.class,
        ReindexPlugin.class,
        IngestCommonPlugin.class,
        MapperExtrasPlugin.class
    );

    /** How long a clean shutdown may take before the JVM gives up waiting. */
    private static final long CLOSE_TIMEOUT_SECONDS = 60;

    CitysocNode(Environment environment) {
        super(environment, MODULES, true);
    }

    public static void main(String[] args) {
        PrintStream err = System.err;
        if (args.length != 1) {
            err.println("usage: CitysocNode CONFIG_DIR  (CONFIG_DIR holds opensearch.yml and log4j2.properties)");
            System.exit(64);
        }
        Path configDir = Paths.get(args[0]).toAbsolutePath().normalize();
        if (!Files.isRegularFile(configDir.resolve("opensearch.yml"))) {
            err.println("engine-node: no opensearch.yml in " + configDir);
            System.exit(78);
        }
        String home = System.getProperty("citysoc.engine.home");
        if (home == null || home.isEmpty()) {
            err.println("engine-node: the system property citysoc.engine.home (the engine's folder) is not set");
            System.exit(78);
        }

        final CitysocNode node;
        final Logger log;
        try {
            Settings input = Settings.builder().put("path.home", home).build();
            Environment environment = InternalSettingsPreparer.prepareEnvironment(
                input, Collections.emptyMap(), configDir, () -> "node-0");
            LogConfigurator.registerErrorListener();
            LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
            LogConfigurator.configure(environment);
            log = LogManager.getLogger(CitysocNode.class);
            log.info("starting with config {} and modules {}", configDir, MODULES);
            node = new CitysocNode(environment);
        } catch (Exception e) {
            err.println("engine-node: cannot set the node up: " + e);
            e.printStackTrace(err);
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Thread keepAlive = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "citysoc-engine-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("stopping on signal");
            try {
                node.close();
                if (!node.awaitClose(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    log.warn("node did not close within {}s", CLOSE_TIMEOUT_SECONDS);
                }
                log.info("stopped");
            } catch (Exception e) {
                log.error("error while stopping", e);
            } finally {
                stopped.countDown();
                Configurator.shutdown((LoggerContext) LogManager.getContext(false));
            }
        }, "citysoc-engine-shutdown"));

        try {
            node.start();
            log.info("started");
        } catch (Throwable e) {
            log.error("node failed to start", e);
            err.println("engine-node: the node failed to start: " + e);
            System.exit(1);
        }
    }
}
