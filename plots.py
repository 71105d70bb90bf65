"""The notebook's figures. Each function draws one figure with matplotlib and returns it."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

import faces
import settings


def show_detection(photo_path, margin=settings.FACE_MARGIN):
    """The photo with MTCNN's box and 5 landmarks, beside the 160x160 crop the network sees."""
    image = faces.read_image(photo_path)
    face = faces.locate_faces([image])[0][0]  # as the pipeline finds it
    if face is None:
        raise faces.FaceNotFoundError(f"No face found in {photo_path}.")
    crop = faces.brighten_dark_face(faces.crop_face(image, face["box"], margin))
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 4))
    left.imshow(image)
    x, y, w, h = face["box"]
    left.add_patch(Rectangle((x, y), w, h, fill=False, color="lime", linewidth=2))
    for px, py in face["keypoints"].values():
        left.plot(px, py, "o", color="red", markersize=4)
    left.set_title(f"photo {image.shape[1]}x{image.shape[0]}, MTCNN box and landmarks")
    right.imshow(crop)
    right.set_title(f"face crop {crop.shape[1]}x{crop.shape[0]} (margin {margin:.0%})")
    for axis in (left, right):
        axis.axis("off")
    figure.tight_layout()
    return figure


def photo_grid(paths, titles, columns=6):
    """Photos in a grid with a title under each."""
    rows = int(np.ceil(len(paths) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.3 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, path, title in zip(axes.ravel(), paths, titles):
        axis.imshow(faces.read_image(path))
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def distance_heatmap(names, distances, threshold):
    """Pairwise L2 distances as a heat map, with the values written in."""
    figure, axis = plt.subplots(figsize=(7.5, 6.5))
    image = axis.imshow(distances, cmap="viridis_r", vmin=0, vmax=max(1.6, float(np.max(distances))))
    axis.set_xticks(range(len(names)), names, rotation=60, ha="right")
    axis.set_yticks(range(len(names)), names)
    for row in range(len(names)):
        for column in range(len(names)):
            value = distances[row, column]
            axis.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                      color="black" if value < 0.8 else "white")
    figure.colorbar(image, ax=axis, label="L2 distance between embeddings")
    axis.set_title(f"Distances between the database's faces (threshold {threshold})")
    figure.tight_layout()
    return figure


def distance_histograms(same_distances, different_distances, threshold, title=""):
    """Histograms of matching and non-matching pair distances, with the threshold."""
    figure, axis = plt.subplots(figsize=(8, 4))
    bins = np.linspace(0, 2, 61)
    axis.hist(same_distances, bins=bins, alpha=0.6, label="same person", color="tab:green")
    axis.hist(different_distances, bins=bins, alpha=0.6, label="different people", color="tab:red")
    axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    axis.set_xlabel("L2 distance between the two embeddings")
    axis.set_ylabel("pairs")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return figure


def roc_plot(same, distances, threshold):
    """ROC curve of "same person if distance < t" over all t, with the chosen t marked."""
    from sklearn.metrics import auc, roc_curve

    false_rate, true_rate, _ = roc_curve(same, -np.asarray(distances))
    distances, same = np.asarray(distances), np.asarray(same, bool)
    chosen_false = np.mean(distances[~same] < threshold)
    chosen_true = np.mean(distances[same] < threshold)
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot(false_rate, true_rate, label=f"ROC (AUC {auc(false_rate, true_rate):.4f})")
    axis.plot([chosen_false], [chosen_true], "o", color="black", label=f"threshold {threshold:.2f}")
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set_xlabel("false accept rate (strangers let in)")
    axis.set_ylabel("true accept rate (right people let in)")
    axis.legend(loc="lower right")
    figure.tight_layout()
    return figure


def triplet_selection_curves(histories, score_every=25):
    """Training with different ways of choosing triplets, side by side.

    Args:
        histories: {name: {"loss": per step, "active": triplets with a loss above zero per step,
            "auc": held-out AUC every ``score_every`` steps, from step 0}}.
    """
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.8))
    for name, history in histories.items():
        left.plot(history["loss"], label=name, linewidth=1)
        middle.plot(history["active"], label=name, linewidth=1)
        right.plot(np.arange(len(history["auc"])) * score_every, history["auc"], "o-", label=name, markersize=3)
    left.set_ylabel("triplet loss (sum over the batch)")
    left.set_title("The loss")
    middle.set_ylabel("triplets with a loss above zero")
    middle.set_title("Triplets that still teach something")
    right.set_ylabel("AUC on the held-out people")
    right.set_title("Telling new people apart")
    for axis in (left, middle, right):
        axis.set_xlabel("training step")
        axis.legend()
    figure.tight_layout()
    return figure


def embedding_scatter(points_before, points_after, labels, names):
    """2-D PCA of embeddings before and after training, one colour per person."""
    from sklearn.decomposition import PCA

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    colours = plt.get_cmap("tab10")
    figure.suptitle("Held-out people: PCA of their embeddings, one colour per person")
    for axis, points, title in ((axes[0], points_before, "before training"), (axes[1], points_after, "after training")):
        flat = PCA(n_components=2, random_state=0).fit_transform(points)
        for label, name in enumerate(names):
            chosen = labels == label
            axis.scatter(flat[chosen, 0], flat[chosen, 1], s=18, color=colours(label % 10), label=name)
        axis.set_title(title)
        axis.set_xticks([])
        axis.set_yticks([])
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    figure.tight_layout()
    return figure


def open_set_curves(table, threshold, far=0.01):
    """Open-set identification against the gallery size (``open_set.gallery_sizes_table``)."""
    people = [row["people"] for row in table]
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.8))
    left.plot(people, [row["rank1"] for row in table], "o-", label="rank-1 (nearest is right)")
    left.plot(people, [row["identified"] for row in table], "s-", label=f"right and below {threshold:.2f}")
    left.plot(people, [row["identified_at_far"] for row in table], "^-", label=f"right, threshold for {far:.0%} FAR")
    left.set_ylabel("fraction of gallery people's probes")
    left.set_title("Gallery people recognised")
    left.legend(fontsize=8)
    middle.plot(people, [row["stranger_far"] for row in table], "o-", color="tab:red")
    middle.set_ylabel("fraction of strangers let in")
    middle.set_title(f"Strangers accepted at threshold {threshold:.2f}")
    right.plot(people, [row["threshold_at_far"] for row in table], "o-", color="tab:purple",
               label=f"threshold for {far:.0%} FAR")
    right.axhline(threshold, color="black", linestyle="--", label=f"fixed threshold {threshold:.2f}")
    right.set_ylabel("L2 distance")
    right.set_title(f"Threshold that lets in {far:.0%} of strangers")
    right.legend(fontsize=8)
    for axis in (left, middle, right):
        axis.set_xscale("log")
        axis.set_xlabel("people in the gallery (K)")
    figure.tight_layout()
    return figure


def query_times(table):
    """Microseconds per probe to find the nearest gallery person, brute force and with indexes."""
    people = [row["people"] for row in table]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(people, [1e6 * row["seconds_per_query"]["brute_force"] for row in table], "o-",
              label="brute force, one probe at a time")
    for algorithm, label in (("brute", "NearestNeighbors, matrix products"), ("ball_tree", "NearestNeighbors, ball tree")):
        axis.plot(people, [1e6 * row["seconds_per_query"]["index"][algorithm] for row in table], "o-", label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("people in the gallery (K)")
    axis.set_ylabel("microseconds per probe")
    axis.set_title("Searching the gallery")
    axis.legend()
    figure.tight_layout()
    return figure


def several_photos_curves(table, threshold, far=0.01):
    """The ways of using several photos against the photos enrolled per person
    (``open_set.several_photos_table``): rank-1, recognised at the threshold for ``far``, and
    recognised and strangers rejected at the fixed threshold."""
    methods = list(dict.fromkeys(row["method"] for row in table))
    figure, axes = plt.subplots(1, 4, figsize=(17, 4))
    panels = [
        ("rank1", "Rank-1 (closed set)", "fraction of probes: right person first"),
        ("identified_at_far", f"Recognised, threshold for {far:.0%} of strangers", "fraction of probes: right and let in"),
        ("identified", f"Recognised at the fixed threshold {threshold:.2f}", "fraction of probes: right and let in"),
        ("strangers_rejected", f"Strangers rejected at {threshold:.2f}", "fraction of strangers turned away"),
    ]
    for axis, (key, title, label) in zip(axes, panels):
        for number, method in enumerate(methods):
            rows = [row for row in table if row["method"] == method and key in row]
            if rows:
                axis.plot([row["photos"] for row in rows], [row[key] for row in rows], marker="o", label=method,
                          color=f"C{number}", linestyle="--" if method == "FaceDatabase" else "-")
        axis.set_xscale("log")
        counts = sorted({row["photos"] for row in table})
        axis.set_xticks(counts, [str(count) for count in counts])
        axis.minorticks_off()
        axis.set_xlabel("photos enrolled per person")
        axis.set_ylabel(label)
        axis.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def stranger_tradeoff(table, threshold, counts=(1, 10)):
    """People recognised against strangers let in as the threshold moves (``curve`` of
    ``open_set.several_photos_table``), for the distance methods with few and many photos per
    person; the fixed threshold is a dot on each curve. Strangers let in on a log scale: the
    strict thresholds, where the methods differ, are on the left."""
    methods = list(dict.fromkeys(row["method"] for row in table))
    figure, axes = plt.subplots(1, len(counts), figsize=(6 * len(counts), 4.5), sharey=True)
    axes = np.atleast_1d(axes)
    for axis, count in zip(axes, counts):
        for row in table:
            if row["photos"] != count or "curve" not in row:
                continue
            curve = row["curve"]
            let_in = 1 - np.asarray(curve["strangers_rejected"])
            recognised = np.asarray(curve["identified"])
            shown = let_in >= 1 / row["strangers_tested"]  # below one stranger in a draw: too few to tell
            colour = f"C{methods.index(row['method'])}"
            axis.plot(let_in[shown], recognised[shown], color=colour, label=row["method"],
                      linestyle="--" if row["method"] == "FaceDatabase" else "-")
            mark = int(np.argmin(np.abs(np.asarray(curve["thresholds"]) - threshold)))
            axis.plot(let_in[mark], recognised[mark], "o", color=colour)
        axis.set_xscale("log")
        axis.set_xlabel("strangers let in (log scale)")
        axis.set_title(f"{count} photo{'s' if count > 1 else ''} per person (dots: threshold {threshold:.2f})", fontsize=10)
        axis.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("probes recognised (right and let in)")
    axes[0].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def image_panels(images, titles, boxes=None, columns=3):
    """Images (uint8 arrays) in a grid with a title over each, and a face box [x, y, w, h] drawn on
    those that have one; a box may pass the image's edges (the axes then show the space around)."""
    boxes = boxes or [None] * len(images)
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, title, box in zip(axes.ravel(), images, titles, boxes):
        axis.imshow(image)
        if box is not None:
            x, y, w, h = box
            axis.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="lime", linewidth=2))
            axis.set_xlim(min(x, 0) - 2, max(x + w, image.shape[1]) + 2)
            axis.set_ylim(max(y + h, image.shape[0]) + 2, min(y, 0) - 2)
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
