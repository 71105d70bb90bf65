"""Build the notebook's photos (images/database and images/camera).

    python scripts/build_images.py                  # from LFW, as images/lfw_selection.json says
    python scripts/build_images.py --from my_people # an instructor's own photos (see README.md)

LFW is read from $LFW_DIR, or downloaded once if that is not set.
"""

import argparse
from pathlib import Path

import face_database
import settings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", type=Path, help="a folder with database/ and camera/")
    parser.add_argument("--lfw-dir", type=Path, help="the LFW folder (default: $LFW_DIR or download)")
    arguments = parser.parse_args()
    if arguments.folder:
        face_database.build_from_folder(arguments.folder)
    else:
        face_database.build_from_lfw(arguments.lfw_dir)
    people = face_database.database_photos()
    camera = face_database.read_manifest()
    print(f"{len(people)} people in {settings.DATABASE_DIR}, {len(camera)} camera photos in {settings.CAMERA_DIR}")


if __name__ == "__main__":
    main()
