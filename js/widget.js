// frontend
